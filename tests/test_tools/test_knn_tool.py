"""tools/benchmarks/classification/knn.py: the config's k and temperature
unless the command line says otherwise."""
from pathlib import Path
from typing import List

import pytest

from forkrun import run_python

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'


def knn(run_dir: Path, env: dict, tiny_eval: List[str], *args: str) -> str:
    """Run knn.py on the digits run's checkpoint; return its last line."""
    proc = run_python([
        ROOT / 'tools/benchmarks/classification/knn.py', DIGITS,
        run_dir / 'epoch_1.pth', '--work-dir', run_dir / 'knn', *args,
        '--cfg-options', *tiny_eval, 'val_evaluator.k=3',
        'val_evaluator.temperature=0.5'
    ],
                      env=env,
                      cwd=ROOT,
                      timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.integration
def test_k_and_temperature_from_the_config_or_the_command_line(
        digits_run: Path, tool_env: dict,
        tiny_eval_options: List[str]) -> None:
    assert knn(digits_run, tool_env,
               tiny_eval_options).startswith('kNN (k=3, T=0.5) top-1: ')
    assert knn(digits_run, tool_env, tiny_eval_options, '--k',
               '5').startswith('kNN (k=5, T=0.5) top-1: ')
    assert knn(digits_run, tool_env, tiny_eval_options, '--temperature',
               '0.1').startswith('kNN (k=3, T=0.1) top-1: ')
