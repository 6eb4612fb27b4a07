"""tests/forkrun.py: a tool forked from the preloaded server behaves as the
same tool started cold, for what the tests read of it (exit status, output,
files, environment, arguments, working directory, threads, import path)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from forkrun import python_env, run_python, start_python
from hexa_mm.testing import free_port

# the server is a subprocess that imports torch and the OpenMMLab stack
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]
# which hexa_mm the tool would use, without importing it in a cold start
# (the server has; find_spec then gives the imported one's)
PROBE = '''\
import json, os, sys
from importlib.util import find_spec
import numpy as np
import torch
print(json.dumps(dict(
    argv=sys.argv, cwd=os.getcwd(), path=sys.path,
    marker=os.environ.get('MARKER'), threads=torch.get_num_threads(),
    hexa_mm=os.path.dirname(find_spec('hexa_mm').origin),
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


def env(*path: Path, **extra: str) -> dict:
    """A tool's environment: hexa_mm from this checkout, then ``path`` on
    its ``PYTHONPATH``."""
    return dict(PATH='/usr/bin:/bin',
                PYTHONPATH=os.pathsep.join(map(str, [ROOT, *path])),
                **extra)


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
    # a folder more on the PYTHONPATH than the server has
    runs = [
        run(['tool/probe.py', 'a b', '--x'], env(tmp_path / 'lib', **extra),
            tmp_path) for run in (cold, run_python)
    ]
    seen = []
    for proc in runs:
        assert proc.returncode == 3, proc.stderr
        assert proc.stderr == 'to stderr\n'
        seen.append(json.loads(proc.stdout))
    # a fresh process draws its own numbers
    assert seen[0].pop('draw') != seen[1].pop('draw')
    assert seen[0] == seen[1]
    assert seen[1].pop('path')[:3] == [
        str(probe.parent), str(ROOT), str(tmp_path / 'lib')
    ]
    assert seen[1] == dict(argv=['tool/probe.py', 'a b', '--x'],
                           cwd=str(tmp_path),
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


RANK_PROBE = '''\
import json, os, sys, time
names = ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'LOCAL_WORLD_SIZE',
         'MASTER_ADDR', 'MASTER_PORT', 'MARKER')
print(json.dumps(dict({name: os.environ.get(name) for name in names},
                      pid=os.getpid(), pgid=os.getpgid(0))), flush=True)
if os.environ.get('RANK', '') == os.environ.get('FAIL_RANK'):
    sys.exit(3)
time.sleep(float(os.environ.get('SLEEP', '0')))
'''


def test_ranks_are_forked_at_once_with_torchruns_variables(
        tmp_path: Path) -> None:
    script = tmp_path / 'rank.py'
    script.write_text(RANK_PROBE)
    log = tmp_path / 'log'
    run = start_python([script],
                       log,
                       env(MARKER='m'),
                       tmp_path,
                       nproc=2,
                       master_port=12345)
    assert run.wait(timeout=60) == 0 and run.statuses == [0, 0]
    seen = sorted((json.loads(line) for line in log.read_text().splitlines()),
                  key=lambda seen: seen['RANK'])
    assert [s.pop('pid') for s in seen] == run.pids
    # each rank leads its own process group (a kill of one reaches its
    # data workers, not the other rank)
    assert [s.pop('pgid') for s in seen] == run.pids
    assert seen == [
        dict(RANK=str(rank),
             LOCAL_RANK=str(rank),
             WORLD_SIZE='2',
             LOCAL_WORLD_SIZE='2',
             MASTER_ADDR='127.0.0.1',
             MASTER_PORT='12345',
             MARKER='m') for rank in range(2)
    ]


def test_a_failed_rank_stops_the_others_as_torchrun_does(
        tmp_path: Path) -> None:
    script = tmp_path / 'rank.py'
    script.write_text(RANK_PROBE)
    run = start_python([script],
                       tmp_path / 'log',
                       env(FAIL_RANK='1', SLEEP='600'),
                       tmp_path,
                       nproc=2)
    # rank 1 fails; rank 0, asleep, gets SIGTERM instead of its 600 s
    assert run.wait(timeout=60) == -signal.SIGTERM
    assert run.statuses == [-signal.SIGTERM, 3]


def test_a_started_run_can_be_killed(tmp_path: Path) -> None:
    script = tmp_path / 'rank.py'
    script.write_text(RANK_PROBE)
    run = start_python([script], tmp_path / 'log', env(SLEEP='600'), tmp_path)
    assert run.poll() is None and len(run.pids) == 1
    run.kill()
    assert run.wait(timeout=60) == -signal.SIGKILL
    # the server goes on serving
    assert run_python([script], env(), tmp_path).returncode == 0


SHIM_PROBE = '''\
import json, os, sys, time
print(json.dumps(dict(argv=sys.argv, cwd=os.getcwd(), path0=sys.path[0],
                      marker=os.environ.get('MARKER'),
                      preloaded='torch' in sys.modules,
                      pid=os.getpid())), flush=True)
print('to stderr', file=sys.stderr, flush=True)
time.sleep(float(os.environ.get('SLEEP', '0')))
sys.exit(int(os.environ.get('STATUS', '0')))
'''


@pytest.fixture
def shim_env(tmp_path: Path) -> dict:
    """:func:`forkrun.python_env` of :func:`env`, with the probe as
    ``tool/probe.py`` and as ``tool/launch.py``."""
    for name in ('probe.py', 'launch.py'):
        (tmp_path / 'tool').mkdir(exist_ok=True)
        (tmp_path / 'tool' / name).write_text(SHIM_PROBE)
    return python_env(env())


def test_the_shells_python_forks_a_script_as_a_cold_one_reads(
        shim_env: dict, tmp_path: Path) -> None:
    command = '"$PYTHON" tool/probe.py "a b" --x'
    runs = [
        subprocess.run(['bash', '-c', command],
                       env=dict(shim_env,
                                PYTHON=python,
                                MARKER='m',
                                STATUS='3'),
                       cwd=tmp_path,
                       capture_output=True,
                       text=True,
                       timeout=300)
        for python in (sys.executable, shim_env['PYTHON'])
    ]
    seen = []
    for proc in runs:
        assert proc.returncode == 3 and proc.stderr == 'to stderr\n'
        seen.append(json.loads(proc.stdout))
    assert seen[0].pop('pid') != seen[1].pop('pid')
    # the only difference: the forked one has torch already
    assert (seen[0].pop('preloaded'), seen[1].pop('preloaded')) == (False,
                                                                    True)
    assert seen[0] == seen[1]
    assert seen[1]['path0'] == str(tmp_path / 'tool')


def test_the_shells_python_takes_u_and_p_and_runs_the_rest_for_real(
        shim_env: dict, tmp_path: Path) -> None:
    python = shim_env['PYTHON']

    def run(*args: str) -> dict:
        proc = subprocess.run([python, *args],
                              env=shim_env,
                              cwd=tmp_path,
                              capture_output=True,
                              text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[0])

    # -P: no script folder on sys.path (the first is PYTHONPATH's)
    assert run('-u', '-P', 'tool/probe.py')['path0'] == str(ROOT)
    assert run('-u', '-P', 'tool/probe.py')['preloaded']
    # hexa_mm's launcher is real, its workers are forked
    assert not run('tool/launch.py', 'torchrun')['preloaded']
    assert run('tool/launch.py', 'worker', 'x.py')['preloaded']
    assert not run('-c', SHIM_PROBE)['preloaded']


def test_the_shells_python_forks_torchrun_and_its_workers(
        shim_env: dict, tmp_path: Path) -> None:
    # no real interpreter to fall back on: torchrun runs only if forked
    no_real = dict(shim_env, FORKRUN_PYTHON=str(tmp_path / 'no-python'))
    proc = subprocess.run([
        shim_env['PYTHON'], '-m', 'torch.distributed.run', '--nnodes=1',
        '--nproc_per_node=2', f'--master_port={free_port()}', '--no-python',
        shim_env['PYTHON'], 'tool/probe.py', 'x'
    ],
                          env=no_real,
                          cwd=tmp_path,
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    workers = [
        json.loads(line) for line in proc.stdout.splitlines()
        if line.startswith('{')
    ]
    assert len(workers) == 2
    assert all(w['preloaded'] and w['argv'] == ['tool/probe.py', 'x']
               for w in workers)
    # any other module still needs the real interpreter
    other = subprocess.run([shim_env['PYTHON'], '-m', 'json.tool', '-h'],
                           env=no_real,
                           cwd=tmp_path,
                           capture_output=True,
                           text=True,
                           timeout=300)
    assert other.returncode != 0 and 'os.execv(real' in other.stderr


def test_the_shells_python_forwards_signals_and_takes_its_child_along(
        shim_env: dict, tmp_path: Path) -> None:
    for ending in (signal.SIGTERM, signal.SIGKILL):
        client = subprocess.Popen([shim_env['PYTHON'], 'tool/probe.py'],
                                  env=dict(shim_env, SLEEP='600'),
                                  cwd=tmp_path,
                                  stdout=subprocess.PIPE,
                                  text=True)
        child = json.loads(client.stdout.readline())['pid']
        client.send_signal(ending)
        # SIGTERM: forwarded, the child ends, then the client by the same
        # signal; SIGKILL: the server sees the client gone
        assert client.wait(timeout=60) == -ending
        deadline = time.monotonic() + 60
        while _alive(child):
            assert time.monotonic() < deadline, f'{child} left after {ending}'
            time.sleep(0.1)


def _alive(pid: int) -> bool:
    """Whether a process (not a zombie) is ``pid``."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except FileNotFoundError:
        return False
