"""tests/forkrun.py: a tool forked from the preloaded server behaves as the
same tool started cold, for what the tests read of it (exit status, output,
files, environment, arguments, working directory, threads, import path)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from forkrun import run_python

# the server is a subprocess that imports torch and the OpenMMLab stack
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
PROBE = '''\
import json, os, sys
import numpy as np
import torch
import hexa_mm
print(json.dumps(dict(
    argv=sys.argv, cwd=os.getcwd(), path0=sys.path[0],
    marker=os.environ.get('MARKER'), threads=torch.get_num_threads(),
    hexa_mm=os.path.dirname(hexa_mm.__file__),
    weights_only_off=os.environ.get('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD'),
    name=__name__, draw=float(np.random.rand()))))
print('to stderr', file=sys.stderr)
sys.exit(int(os.environ.get('STATUS', '0')))
'''


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    """A script that prints what it was given as JSON, then a line on
    standard error, and exits with ``$STATUS``."""
    path = tmp_path / 'tool' / 'probe.py'
    path.parent.mkdir()
    path.write_text(PROBE)
    return path


def env(**extra: str) -> dict:
    return dict(PATH='/usr/bin:/bin', PYTHONPATH=str(ROOT), **extra)


def cold(args: list, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)],
                          env=env,
                          cwd=cwd,
                          capture_output=True,
                          text=True,
                          timeout=300)


def test_a_forked_run_reads_as_a_cold_one(probe: Path, tmp_path: Path) -> None:
    extra = dict(MARKER='m',
                 OMP_NUM_THREADS='2',
                 STATUS='3',
                 TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    runs = [
        run(['tool/probe.py', 'a b', '--x'], env(**extra), tmp_path)
        for run in (cold, run_python)
    ]
    seen = []
    for proc in runs:
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr == 'to stderr\n'
        seen.append(json.loads(proc.stdout))
    # a fresh process draws its own numbers
    assert seen[0].pop('draw') != seen[1].pop('draw')
    assert seen[0] == seen[1]
    assert seen[1] == dict(argv=['tool/probe.py', 'a b', '--x'],
                           cwd=str(tmp_path),
                           path0=str(probe.parent),
                           marker='m',
                           threads=2,
                           hexa_mm=str(ROOT / 'hexa_mm'),
                           weights_only_off='1',
                           name='__main__')


def test_each_child_starts_from_the_server_not_the_last_child(
        probe: Path, tmp_path: Path) -> None:
    first = run_python([probe], env(OMP_NUM_THREADS='2'), tmp_path)
    second = run_python([probe], env(), tmp_path)
    assert json.loads(first.stdout)['threads'] == 2
    # without OMP_NUM_THREADS: one thread a core, as a cold start
    assert json.loads(second.stdout)['threads'] == json.loads(
        cold([probe], env(), tmp_path).stdout)['threads']
    assert json.loads(second.stdout)['marker'] is None
    draws = [json.loads(p.stdout)['draw'] for p in (first, second)]
    assert draws[0] != draws[1]


def test_an_uncaught_exception_is_status_1_and_a_traceback(
        tmp_path: Path) -> None:
    script = tmp_path / 'fail.py'
    script.write_text('print("before", flush=True)\n'
                      'raise ValueError("broken")\n')
    proc = run_python([script], env(), tmp_path)
    assert proc.returncode == 1
    assert proc.stdout == 'before\n'
    assert proc.stderr.startswith('Traceback (most recent call last):')
    assert proc.stderr.rstrip().endswith('ValueError: broken')


def test_system_exit_with_a_message_and_merged_output(tmp_path: Path) -> None:
    script = tmp_path / 'message.py'
    script.write_text('import sys\nprint("out")\nsys.exit("error: bad")\n')
    proc = run_python([script], env(), tmp_path, stderr_to_stdout=True)
    assert proc.returncode == 1
    assert proc.stdout == 'out\nerror: bad\n' and proc.stderr is None


def test_a_run_past_its_timeout_is_killed(tmp_path: Path) -> None:
    script = tmp_path / 'sleep.py'
    script.write_text('import time\nprint("started", flush=True)\n'
                      'time.sleep(600)\n')
    with pytest.raises(subprocess.TimeoutExpired) as err:
        run_python([script], env(), tmp_path, timeout=5)
    assert err.value.output == 'started\n'
    # the server goes on serving
    script.write_text('print("next")\n')
    assert run_python([script], env(), tmp_path).stdout == 'next\n'
