"""tools/analysis/feature_quality.py: rows of seeds and paired differences."""
import runpy
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / ('configs/mocov2/'
                 'mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py')
SMALL = [
    '--cfg-options', 'val_dataloader.dataset.bank.indices=200',
    'val_dataloader.dataset.query.indices=100'
]


def run(argv, capsys) -> tuple:
    sys.argv = ['feature_quality.py', *map(str, argv)]
    with pytest.raises(SystemExit) as done:
        runpy.run_path(
            str(ROOT / 'tools/analysis/feature_quality.py'),
            run_name='__main__')
    out = capsys.readouterr()
    return done.value.code, out.out, out.err


def test_rows_of_seeds_and_paired_difference(tmp_path: Path,
                                             capsys) -> None:
    register_all_modules()
    cfg = Config.fromfile(CONFIG)
    paths = []
    for seed in range(4):
        torch.manual_seed(seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
        paths.append(tmp_path / f'seed{seed}.pth')
        torch.save(dict(state_dict=model.state_dict()), paths[-1])
    code, out, _ = run([
        CONFIG, '--checkpoint', f'A={paths[0]},{paths[1]}',
        f'B={paths[2]},{paths[3]}', '--paired', 'A:B', '--split', 'test',
        '--draws', '3', *SMALL
    ], capsys)
    assert code == 0
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines() if line.strip() and ' - ' not in line
    }
    assert '\ntest split;' in out
    # each row of two seeds is mean ± std
    assert rows['A'][2] == '±' and rows['B'][2] == '±'
    knn_a = float(rows['A'][1])
    knn_b = float(rows['B'][1])
    (line, ) = [ln for ln in out.splitlines() if ln.startswith('A - B')]
    assert 'n=2' in line
    # the paired mean is the difference of the row means
    assert float(line.split('kNN ')[1].split()[0]) == pytest.approx(
        knn_a - knn_b, abs=0.011)
    # random init has as many seeds as the longest row
    assert rows['random'][3] == '±'


@pytest.mark.parametrize('extra, message', [
    (['--checkpoint', 'A=x.pth', '--paired', 'A:C'], "no checkpoint row "
     "named 'C'"),
    (['--checkpoint', 'A=x.pth,y.pth', 'B=z.pth', '--paired', 'A:B'],
     'pair one per seed'),
])
def test_bad_pairs_are_one_error_line(extra, message, capsys) -> None:
    code, _, err = run([CONFIG, *extra], capsys)
    assert code == 2
    (line, ) = err.strip().splitlines()
    assert line.startswith('error: ') and message in line
