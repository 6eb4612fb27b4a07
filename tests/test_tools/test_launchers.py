"""tools/dist_train.sh and tools/slurm_train.sh: one error line whatever the
number of processes, a busy port, and no worker left behind by a kill.

The launchers and srun are real processes in every test. Where a test reads
what the workers print, torchrun and the workers are forked from a preloaded
server (:func:`forkrun.python_env`); where it kills the launcher, they are
real too (a forked process's parent is the server, not its launcher)."""
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest

from forkrun import python_env, run_python

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
DIST_TRAIN = str(ROOT / 'tools/dist_train.sh')
SLURM_TRAIN = str(ROOT / 'tools/slurm_train.sh')

# srun as far as tools/slurm_train.sh uses it: --ntasks copies of the
# command with Slurm's variables, all stopped when one fails
# (--kill-on-bad-exit), then srun's own report of the failed task.
FAKE_SRUN = '''#!{python}
import os, subprocess, sys, time
args = sys.argv[1:]
tasks = 1
while args[0].startswith('-'):
    option = args.pop(0)
    if option == '-p':
        args.pop(0)
    elif option.startswith('--ntasks='):
        tasks = int(option.split('=')[1])
procs = [subprocess.Popen(args, env=dict(
    os.environ, SLURM_PROCID=str(rank), SLURM_LOCALID=str(rank),
    SLURM_NTASKS=str(tasks), SLURM_NODELIST='localhost'))
    for rank in range(tasks)]
status = 0
while any(proc.poll() is None for proc in procs):
    failed = [p for p in procs if p.poll() not in (None, 0)]
    if failed:
        status = failed[0].returncode
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    time.sleep(0.2)
status = status or max(proc.returncode for proc in procs)
for rank, proc in enumerate(procs):
    if proc.returncode:
        print(f'srun: error: localhost: task {{rank}}: Exited with exit '
              f'code {{proc.returncode}}', file=sys.stderr)
sys.exit(status)
'''


def run(cmd: List[str],
        env: Dict[str, str],
        timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command from the repository root."""
    return subprocess.run(
        cmd,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout)


def assert_one_error_line(proc: subprocess.CompletedProcess,
                          expected: str) -> None:
    """Exit status 2, and the only ``error:`` line, the last one of standard
    error, says ``expected``; no traceback."""
    lines = proc.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith('error: ')]
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert len(errors) == 1 and errors[0] == lines[-1], proc.stderr[-3000:]
    assert expected in errors[0]
    output = proc.stdout + proc.stderr
    assert 'Traceback' not in output and 'ChildFailedError' not in output
    assert 'srun: error' not in output


@pytest.mark.parametrize('count', ['two', '0', '-1'])
def test_bad_process_count(count: str, tool_env: dict) -> None:
    proc = run(['bash', DIST_TRAIN, str(DIGITS), count], tool_env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('error: NUM_PROCESSES must be an integer '
                                   f'of at least 1, got {count!r}')


def test_missing_config_through_both_launchers(tool_env: dict) -> None:
    proc = run(['bash', DIST_TRAIN, 'configs/nope.py', '2'], tool_env)
    assert proc.returncode == 2
    assert proc.stderr.startswith('error: config configs/nope.py does not')
    proc = run(['bash', SLURM_TRAIN, 'p', 'job', 'configs/nope.py', 'w'],
               tool_env)
    assert proc.returncode == 2
    assert proc.stderr.startswith('error: config configs/nope.py does not')


def test_busy_port_suggests_another(tool_env: dict) -> None:
    with socket.socket() as sock:
        sock.bind(('', 0))
        sock.listen()
        port = sock.getsockname()[1]
        proc = run(['bash', DIST_TRAIN, str(DIGITS), '2'],
                   dict(tool_env, PORT=str(port)))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f'error: port {port} is in use')
    assert 'PORT=' in lines[0]


@pytest.mark.integration
def test_worker_error_is_one_line_whatever_the_process_count(
        tmp_path: Path, tool_env: dict, tiny_options: List[str]) -> None:
    # 3 processes x 8 = 24 does not divide a queue of 60: every worker fails
    proc = run([
        'bash', DIST_TRAIN,
        str(DIGITS), '3', '--work-dir',
        str(tmp_path), '--cfg-options', *tiny_options, 'model.queue_len=60'
    ], python_env(tool_env))
    assert_one_error_line(
        proc, 'queue_len=60 is not a multiple of the global batch size 24')
    assert not list(tmp_path.glob('*.pth'))


def _processes_mentioning(text: str) -> Dict[int, str]:
    """The live processes whose command line contains ``text``, with their
    command lines."""
    found = {}
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open(f'/proc/{pid}/cmdline', 'rb') as f:
                cmdline = f.read().replace(b'\0', b' ').decode()
        except OSError:
            continue
        if text in cmdline:
            found[int(pid)] = cmdline
    return found


def _wait(condition, seconds: float) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` have passed."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _running_the_script(pid: int) -> bool:
    """Whether a worker has begun its script (it maps torch's library):
    past ``launch.py worker``'s ``PR_SET_PDEATHSIG``, which comes first."""
    try:
        with open(f'/proc/{pid}/maps') as f:
            return 'libtorch' in f.read()
    except OSError:
        return False


@pytest.mark.integration
@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='/proc')
@pytest.mark.parametrize('sig,when', [('SIGINT', 'training'),
                                      ('SIGTERM', 'starting'),
                                      ('SIGKILL', 'starting')])
def test_killing_the_launcher_group_ends_every_worker(sig: str, when: str,
                                                      tmp_path: Path,
                                                      tool_env: dict,
                                                      tiny_options: List[str]
                                                      ) -> None:
    # Ctrl-C while the workers train (a worker may sit in a collective);
    # SIGTERM and SIGKILL (a scheduler ending the job) once both workers run
    # their script: torchrun and the workers end by the same signals
    # whatever the workers are doing, and a worker's cold start (importing
    # torch, mmengine, mmpretrain, mmdet) is most of the run's CPU
    work = tmp_path / 'work'
    launcher = subprocess.Popen([
        'bash', DIST_TRAIN,
        str(DIGITS), '2', '--work-dir',
        str(work), '--cfg-options', *tiny_options, 'train_cfg.max_epochs=1000'
    ],
                                cwd=ROOT,
                                env=tool_env,
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                                start_new_session=True)
    workers = lambda: [  # noqa: E731
        pid for pid, cmdline in _processes_mentioning(str(work)).items()
        if 'launch.py worker' in cmdline and 'torch.distributed.run' not in
        cmdline
    ]
    training = lambda: any(  # noqa: E731
        'Epoch(train)' in log.read_text() for log in work.glob('*/*.log'))
    starting = lambda: len(workers()) == 2 and all(  # noqa: E731
        map(_running_the_script, workers()))
    try:
        ready = training if when == 'training' else starting
        assert _wait(ready, 300), f'the run did not reach {when}'
        assert len(workers()) == 2
        os.killpg(launcher.pid, getattr(signal, sig))
        # torchrun stops its workers within its 30 s grace period
        assert _wait(lambda: not _processes_mentioning(str(work)), 90), \
            f'left running after {sig}: {_processes_mentioning(str(work))}'
    finally:
        for pid in _processes_mentioning(str(work)):
            os.kill(pid, signal.SIGKILL)
        launcher.wait(timeout=60)


@pytest.fixture
def fake_srun(tmp_path: Path, tool_env: dict) -> Dict[str, str]:
    """``tool_env`` with a fake ``srun`` first on the ``PATH``, the workers
    forked (:func:`forkrun.python_env`)."""
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN.format(python=sys.executable))
    srun.chmod(0o755)
    return python_env(
        dict(tool_env,
             PATH=os.pathsep.join([str(bin_dir), tool_env['PATH']]),
             GPUS='2',
             GPUS_PER_NODE='2',
             CPUS_PER_TASK='1'))


def _slurm_train(tmp_path: Path, fake_srun: dict, tiny_options: List[str],
                 option: str) -> subprocess.CompletedProcess:
    """``slurm_train.sh`` on the digits config with the fake ``srun``, the
    tiny options and one more ``--cfg-options`` entry; work dir
    ``tmp_path / 'work'``."""
    return run([
        'bash', SLURM_TRAIN, 'partition', 'job',
        str(DIGITS),
        str(tmp_path / 'work'), '--cfg-options', *tiny_options, option
    ], fake_srun)


@pytest.mark.integration
def test_slurm_train_runs_gloo_from_slurms_variables(tmp_path: Path,
                                                     fake_srun: dict,
                                                     tiny_options: List[str]
                                                     ) -> None:
    proc = _slurm_train(tmp_path, fake_srun, tiny_options,
                        'train_cfg.max_epochs=1')
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Distributed launcher: slurm' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    assert log.count('distributed training uses the gloo backend') == 1
    assert 'Epoch(train) [1][2/2]' in log
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()


@pytest.mark.integration
def test_slurm_train_worker_error_is_one_line(tmp_path: Path, fake_srun: dict,
                                              tiny_options: List[str]) -> None:
    proc = _slurm_train(tmp_path, fake_srun, tiny_options,
                        'model.queue_len=60')
    assert_one_error_line(
        proc, 'queue_len=60 is not a multiple of the global batch size 16')


@pytest.mark.integration
def test_slurm_launcher_without_slurm_variables(tmp_path: Path,
                                                tool_env: dict) -> None:
    # train.py itself, no launcher: forked from the preloaded server
    proc = run_python([
        'tools/train.py', DIGITS, '--launcher', 'slurm', '--work-dir',
        tmp_path
    ],
                      env=tool_env,
                      cwd=ROOT)
    assert_one_error_line(
        proc, '--launcher slurm: SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST '
        'not set')
