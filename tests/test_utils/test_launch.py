"""Tests of hexa_mm.utils.launch: the launchers' own checks, the port, and
how a worker's ``error:`` line is reported."""
import io
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

from hexa_mm.utils.launch import (LaunchError, check_port, run_workers,
                                  slurm_command, torchrun_command)

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py')
LAUNCH = str(REPO / 'hexa_mm/utils/launch.py')
TRAIN = str(REPO / 'tools/train.py')


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as sock:
        sock.bind(('', 0))
        sock.listen()
        yield sock.getsockname()[1]


def option(command: list, name: str) -> str:
    """The value of a ``--name=value`` option of a command."""
    return next(
        arg.split('=', 1)[1] for arg in command
        if arg.startswith(f'--{name}='))


@pytest.mark.parametrize('count', ['two', '0', '-1', '1.5', ''])
def test_process_count_must_be_a_positive_integer(count: str) -> None:
    with pytest.raises(
            LaunchError,
            match='NUM_PROCESSES must be an integer '
            rf'of at least 1, got {count!r}'):
        torchrun_command([CONFIG, count], {})


def test_missing_config_and_arguments() -> None:
    with pytest.raises(LaunchError, match='config nope.py does not exist'):
        torchrun_command(['nope.py', '2'], {})
    with pytest.raises(LaunchError, match='usage: bash tools/dist_train.sh'):
        torchrun_command([CONFIG], {})


@pytest.mark.parametrize('env, message', [
    (dict(NNODES='x'), 'NNODES must be an integer of at least 1'),
    (dict(NODE_RANK='-1'), 'NODE_RANK must be an integer of at least 0'),
    (dict(NNODES='2', NODE_RANK='2'), 'NODE_RANK must be below NNODES=2'),
    (dict(PORT='http'), 'PORT must be an integer'),
    (dict(PORT='70000'), 'PORT must be at most 65535'),
])
def test_bad_variables(env: dict, message: str) -> None:
    with pytest.raises(LaunchError, match=message):
        torchrun_command([CONFIG, '2'], env)


def test_command_runs_the_workers_through_worker_mode() -> None:
    command = torchrun_command([CONFIG, '3', '--work-dir', 'w'],
                               dict(
                                   PORT='29999',
                                   NNODES='2',
                                   NODE_RANK='1',
                                   MASTER_ADDR='10.0.0.1',
                                   PYTHON='py'))
    assert command[:3] == ['py', '-m', 'torch.distributed.run']
    assert option(command, 'nproc_per_node') == '3'
    assert option(command, 'nnodes') == '2'
    assert option(command, 'node_rank') == '1'
    assert option(command, 'master_addr') == '10.0.0.1'
    assert option(command, 'master_port') == '29999'
    # each worker: launch.py's worker mode, which runs the tool
    workers = command.index('--no-python') + 1
    assert command[workers:] == [
        'py', '-u', '-P', LAUNCH, 'worker', TRAIN, CONFIG, '--launcher',
        'pytorch', '--work-dir', 'w'
    ]


def test_busy_port_given_is_an_error_that_suggests_another(busy_port: int
                                                           ) -> None:
    assert not check_port(busy_port)
    with pytest.raises(LaunchError) as info:
        torchrun_command([CONFIG, '2'], dict(PORT=str(busy_port)))
    message = str(info.value)
    assert f'port {busy_port} is in use' in message
    suggested = int(message.split('PORT=')[-1].split()[0])
    assert suggested != busy_port and check_port(suggested)


def test_busy_default_port_is_replaced_on_one_node(busy_port: int,
                                                   monkeypatch) -> None:
    monkeypatch.setattr('hexa_mm.utils.launch.DEFAULT_PORT', busy_port)
    port = int(option(torchrun_command([CONFIG, '2'], {}), 'master_port'))
    assert port != busy_port and check_port(port)
    # several nodes must agree on the port: no silent replacement
    with pytest.raises(LaunchError, match=f'port {busy_port} is in use'):
        torchrun_command([CONFIG, '2'], dict(NNODES='2'))
    # only node 0 listens
    command = torchrun_command([CONFIG, '2'], dict(NNODES='2', NODE_RANK='1'))
    assert option(command, 'master_port') == str(busy_port)


def test_slurm_checks(tmp_path: Path) -> None:
    args = ['partition', 'job', CONFIG, 'work']
    with pytest.raises(LaunchError, match='srun not found'):
        slurm_command(args, dict(PATH=str(tmp_path)))
    srun = tmp_path / 'srun'
    srun.write_text('#!/bin/sh\n')
    srun.chmod(0o755)
    with pytest.raises(
            LaunchError,
            match="GPUS must be an integer of at "
            "least 1, got 'two'"):
        slurm_command(args, dict(PATH=str(tmp_path), GPUS='two'))
    with pytest.raises(LaunchError, match='usage: bash tools/slurm_train.sh'):
        slurm_command(args[:3], dict(PATH=str(tmp_path)))
    command = slurm_command(
        args + ['--amp'],
        dict(
            PATH=str(tmp_path),
            GPUS='4',
            GPUS_PER_NODE='2',
            SRUN_ARGS='--exclusive --time=1:00'))
    assert command[:3] == ['srun', '-p', 'partition']
    assert '--ntasks=4' in command and '--ntasks-per-node=2' in command
    workers = command.index('--time=1:00') + 1
    assert command[workers:] == [
        'python', '-u', '-P', LAUNCH, 'worker', TRAIN, CONFIG,
        '--work-dir=work', '--launcher=slurm', '--amp'
    ]


def workers(script: str) -> list:
    """A command that runs ``script`` with Python."""
    return [sys.executable, '-c', script]


FAILING_WORKERS = r'''
import sys
sys.stderr.write('a warning before\n')
for rank in range(3):
    sys.stderr.write(f'error: bad queue (rank {rank})\n')
sys.stderr.write('Traceback (most recent call last):\nChildFailedError\n')
sys.exit(1)
'''


def test_first_error_line_once_and_exit_2() -> None:
    err = io.BytesIO()
    assert run_workers(workers(FAILING_WORKERS), {}, err) == 2
    assert err.getvalue().decode().splitlines() == [
        'a warning before', 'error: bad queue (rank 0)'
    ]


def test_failure_without_error_line_is_shown_whole() -> None:
    err = io.BytesIO()
    script = "import sys; sys.stderr.write('Traceback\\nboom\\n'); " \
        'sys.exit(3)'
    assert run_workers(workers(script), {}, err) == 3
    assert err.getvalue().decode() == 'Traceback\nboom\n'


def test_success_keeps_every_line() -> None:
    err = io.BytesIO()
    script = "import sys; sys.stderr.write('error: x\\nafter\\n')"
    assert run_workers(workers(script), {}, err) == 0
    assert err.getvalue().decode() == 'error: x\nafter\n'


WORKER_SCRIPT = r'''
import os, sys
print(__name__, sys.argv[1:], sys.path[0] == os.path.dirname(__file__),
      sys.stderr.line_buffering, flush=True)
sys.exit(int(sys.argv[1]))
'''


def test_worker_mode_runs_the_script_as_python_would(tmp_path: Path) -> None:
    script = tmp_path / 'tool.py'
    script.write_text(WORKER_SCRIPT)
    proc = subprocess.run(
        [sys.executable, '-u', '-P', LAUNCH, 'worker',
         str(script), '3', 'x'],
        capture_output=True,
        text=True,
        timeout=60)
    # the script's exit status, its arguments, its folder first on the path,
    # and whole lines on standard error although Python runs with -u
    assert proc.returncode == 3
    assert proc.stdout == "__main__ ['3', 'x'] True True\n"


def test_killed_by_a_signal_is_128_plus_the_signal() -> None:
    script = 'import os, signal; os.kill(os.getpid(), signal.SIGTERM)'
    assert run_workers(workers(script), {}, io.BytesIO()) == 128 + 15
