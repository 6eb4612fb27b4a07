"""The launchers behind ``tools/dist_train.sh`` and ``tools/slurm_train.sh``.

    python -P hexa_mm/utils/launch.py torchrun CONFIG NUM_PROCESSES [...]
    python -P hexa_mm/utils/launch.py slurm PARTITION JOB CONFIG WORK_DIR [...]
    python -P hexa_mm/utils/launch.py worker SCRIPT [...]

The launchers check their own arguments and environment first (process
counts, node rank, port, the config file) and start nothing on a bad one.
Then they run the workers (torchrun, or srun) and pass their output through,
with one change: once a worker prints a line ``error: ...`` (what every
hexa_mm tool prints for a bad input), that line is printed once and the rest
of the failing run's output (the same line from the other workers, torchrun's
``ChildFailedError`` traceback, srun's task summary) is dropped, and the
launcher exits with status 2. A run that fails without such a line is shown
as it is, with the workers' exit status.

Each worker runs ``worker SCRIPT``, which runs ``SCRIPT`` as ``python
SCRIPT`` would, with two changes. torchrun starts every worker in a session
of its own, so a signal to the launcher's process group, or ``kill -9`` of
torchrun, would not reach the workers, which would go on training with
nobody to collect them: the worker has Linux send it ``SIGTERM`` when its
parent dies (``prctl(PR_SET_PDEATHSIG)``), as torchrun gets ``SIGTERM`` when
the launcher dies, and the launcher passes ``SIGTERM``, ``SIGINT`` and
``SIGHUP`` on to torchrun, which stops its workers. And standard error is
line-buffered (workers run with ``python -u``), so that a line such as
``error: ...`` reaches the shared stream in one write, not interleaved with
the same line from another worker.

The shell scripts and the workers run this file as a script (``-P``: its
folder is not put on ``sys.path``), not as ``hexa_mm.utils.launch``:
importing the package registers every hexa_mm module (torch, mmpretrain...),
which a launcher does not need and which would delay the worker's
``PR_SET_PDEATHSIG``. It uses the standard library only.
"""
import ctypes
import os
import os.path as osp
import runpy
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from typing import IO, Dict, List, Optional, Sequence

__all__ = [
    'LaunchError', 'check_port', 'die_with_parent', 'free_port', 'main',
    'run_worker', 'run_workers', 'slurm_command', 'torchrun_command'
]

TOOLS = osp.join(
    osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools')
DEFAULT_PORT = 29500
ERROR_PREFIX = b'error: '
FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


class LaunchError(ValueError):
    """A bad argument or variable of a launcher; the message says how to fix
    it (what hexa_mm's ``ConfigError`` is, in a module that imports nothing of
    hexa_mm)."""


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """Have this process receive ``sig`` when its parent dies (Linux, through
    ``prctl(PR_SET_PDEATHSIG)``); elsewhere nothing is done.

    Args:
        parent (int): The parent's pid, read before the call: if the parent
            has already died, this process ends at once.
        sig (int): The signal. Defaults to ``SIGTERM``.
    """
    if not sys.platform.startswith('linux'):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), sig)


def _int(name: str, value: str, minimum: int) -> int:
    """Parse an integer argument or variable.

    Args:
        name (str): How the user sets it (``NUM_PROCESSES``, ``NNODES``...).
        value (str): The text given.
        minimum (int): The smallest valid value.

    Returns:
        int: The value.

    Raises:
        LaunchError: If ``value`` is not an integer of at least ``minimum``.
    """
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise LaunchError(
            f'{name} must be an integer of at least {minimum}, got '
            f'{value!r}')
    return number


def _config(path: str) -> str:
    """Check that the config file exists.

    Args:
        path (str): ``CONFIG`` as given.

    Returns:
        str: ``path``.

    Raises:
        LaunchError: If it is not a file.
    """
    if not osp.isfile(path):
        raise LaunchError(f'config {path} does not exist: give the path of a '
                          'config file, e.g. configs/mocov2/'
                          'mocov2_resnet18_2xb64-coslr-30e_digits.py')
    return path


def free_port() -> int:
    """A TCP port that nothing uses now, chosen by the system.

    Returns:
        int: The port.
    """
    with socket.socket() as sock:
        sock.bind(('', 0))
        return sock.getsockname()[1]


def check_port(port: int) -> bool:
    """Whether this machine can listen on ``port``, as torchrun's store will.

    Args:
        port (int): The port.

    Returns:
        bool: False if something else is bound to it.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('', port))
        except OSError:
            return False
    return True


def _master_port(env: Dict[str, str], nnodes: int, node_rank: int) -> int:
    """The port of the rendezvous: ``PORT``, else 29500, else a free one.

    Only node 0 listens, so only node 0 checks the port. On one node without
    ``PORT``, a busy 29500 is replaced by a free port; a busy ``PORT`` (or
    29500 on several nodes, which must agree on it) is an error.

    Args:
        env (dict[str, str]): The environment.
        nnodes (int): ``NNODES``.
        node_rank (int): ``NODE_RANK``.

    Returns:
        int: The port.

    Raises:
        LaunchError: If the port is busy and cannot be replaced.
    """
    given = env.get('PORT')
    port = DEFAULT_PORT if given is None else _int('PORT', given, 1)
    if port > 65535:
        raise LaunchError(f'PORT must be at most 65535, got {port}')
    if node_rank != 0 or check_port(port):
        return port
    if given is None and nnodes == 1:
        return free_port()
    raise LaunchError(
        f'port {port} is in use (another run?): choose a free one with '
        f'PORT=, e.g. PORT={free_port()} bash tools/dist_train.sh ...')


def _worker(python: str, script: str) -> List[str]:
    """The command of a worker that runs ``script``.

    Args:
        python (str): The Python interpreter.
        script (str): The tool script.

    Returns:
        list[str]: ``python -u -P launch.py worker script``.
    """
    return [python, '-u', '-P', osp.abspath(__file__), 'worker', script]


def torchrun_command(argv: Sequence[str], env: Dict[str, str]) -> List[str]:
    """Check ``dist_train.sh``'s arguments and build its torchrun command.

    Args:
        argv (Sequence[str]): ``CONFIG NUM_PROCESSES [options]``.
        env (dict[str, str]): The environment: ``NNODES``, ``NODE_RANK``,
            ``MASTER_ADDR``, ``PORT``, ``PYTHON`` and ``TRAIN_SCRIPT``
            (another entry point with ``tools/train.py``'s interface).

    Returns:
        list[str]: The command.

    Raises:
        LaunchError: For a missing or bad argument or variable.
    """
    if len(argv) < 2:
        raise LaunchError('usage: bash tools/dist_train.sh CONFIG '
                          'NUM_PROCESSES [train.py options]')
    config = _config(argv[0])
    nproc = _int('NUM_PROCESSES', argv[1], 1)
    nnodes = _int('NNODES', env.get('NNODES', '1'), 1)
    node_rank = _int('NODE_RANK', env.get('NODE_RANK', '0'), 0)
    if node_rank >= nnodes:
        raise LaunchError(
            f'NODE_RANK must be below NNODES={nnodes}, got {node_rank}')
    port = _master_port(env, nnodes, node_rank)
    python = env.get('PYTHON') or sys.executable
    script = env.get('TRAIN_SCRIPT') or osp.join(TOOLS, 'train.py')
    return [
        python, '-m', 'torch.distributed.run', f'--nnodes={nnodes}',
        f'--node_rank={node_rank}',
        f'--master_addr={env.get("MASTER_ADDR") or "127.0.0.1"}',
        f'--nproc_per_node={nproc}', f'--master_port={port}', '--no-python',
        *_worker(python, script), config, '--launcher', 'pytorch', *argv[2:]
    ]


def slurm_command(argv: Sequence[str], env: Dict[str, str]) -> List[str]:
    """Check ``slurm_train.sh``'s arguments and build its srun command.

    Args:
        argv (Sequence[str]): ``PARTITION JOB_NAME CONFIG WORK_DIR
            [options]``.
        env (dict[str, str]): The environment: ``GPUS`` (tasks in all),
            ``GPUS_PER_NODE``, ``CPUS_PER_TASK``, ``SRUN_ARGS``, ``PORT``
            (exported as ``MASTER_PORT``) and ``PYTHON``.

    Returns:
        list[str]: The command.

    Raises:
        LaunchError: For a missing or bad argument or variable, or if
            ``srun`` is not on the ``PATH``.
    """
    if len(argv) < 4:
        raise LaunchError('usage: bash tools/slurm_train.sh PARTITION '
                          'JOB_NAME CONFIG WORK_DIR [train.py options]')
    partition, job, config, work_dir = argv[:4]
    _config(config)
    tasks = _int('GPUS', env.get('GPUS', '8'), 1)
    per_node = _int('GPUS_PER_NODE', env.get('GPUS_PER_NODE', '8'), 1)
    cpus = _int('CPUS_PER_TASK', env.get('CPUS_PER_TASK', '5'), 1)
    if 'PORT' in env:
        _int('PORT', env['PORT'], 1)
    if shutil.which('srun', path=env.get('PATH')) is None:
        raise LaunchError(
            'srun not found: tools/slurm_train.sh runs on a Slurm cluster; '
            'on one machine use bash tools/dist_train.sh CONFIG N')
    return [
        'srun', '-p', partition, f'--job-name={job}', f'--gres=gpu:{per_node}',
        f'--ntasks={tasks}', f'--ntasks-per-node={per_node}',
        f'--cpus-per-task={cpus}', '--kill-on-bad-exit=1',
        *shlex.split(env.get('SRUN_ARGS', '')),
        *_worker(env.get('PYTHON') or 'python', osp.join(TOOLS, 'train.py')),
        config, f'--work-dir={work_dir}', '--launcher=slurm', *argv[4:]
    ]


def _start_dying_with_parent() -> None:
    """``preexec_fn`` of the workers' parent: end it when we end."""
    die_with_parent(os.getppid())


def run_workers(command: Sequence[str],
                env: Dict[str, str],
                err: Optional[IO[bytes]] = None) -> int:
    """Run the workers; report a worker's ``error:`` line once.

    Args:
        command (Sequence[str]): torchrun's or srun's command.
        env (dict[str, str]): Its environment.
        err (IO[bytes], optional): Where its standard error goes. Defaults
            to this process's.

    Returns:
        int: 2 if a worker printed an ``error:`` line and the run failed,
        else the command's exit status (128 + N if signal N ended it).
    """
    err = err or sys.stderr.buffer
    proc = subprocess.Popen(
        command,
        env=env,
        stderr=subprocess.PIPE,
        process_group=0,
        preexec_fn=_start_dying_with_parent)
    previous = {
        sig: signal.signal(sig, lambda sig, _: proc.send_signal(sig))
        for sig in FORWARDED_SIGNALS
    }
    first_error, held = None, []
    try:
        for line in proc.stderr:
            if first_error is not None:
                held.append(line)
                continue
            if line.startswith(ERROR_PREFIX):
                first_error = line
            err.write(line)
            err.flush()
        status = proc.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if first_error is not None and status != 0:
        return 2
    err.writelines(held)
    err.flush()
    return 128 - status if status < 0 else status


def run_worker(argv: Sequence[str]) -> None:
    """Run a tool script as a worker (see the module's docstring).

    Args:
        argv (Sequence[str]): ``SCRIPT [script arguments]``.
    """
    die_with_parent(os.getppid())
    sys.stderr.reconfigure(line_buffering=True, write_through=False)
    sys.argv = list(argv)
    sys.path.insert(0, osp.dirname(osp.abspath(argv[0])))
    runpy.run_path(argv[0], run_name='__main__')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Check the arguments, then run the workers.

    Args:
        argv (Sequence[str], optional): ``torchrun ...``, ``slurm ...`` or
            ``worker ...``. Defaults to the command line.

    Returns:
        int: The exit status: 2 for a bad input, else as
        :func:`run_workers`.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ['worker'] and len(argv) > 1:
        run_worker(argv[1:])
        return 0
    env = dict(os.environ)
    try:
        if argv[:1] == ['torchrun']:
            command = torchrun_command(argv[1:], env)
            if int(argv[2]) > 1:
                # what torchrun and mmengine set, without their warnings
                env.setdefault('OMP_NUM_THREADS', '1')
                env.setdefault('MKL_NUM_THREADS', '1')
        elif argv[:1] == ['slurm']:
            command = slurm_command(argv[1:], env)
            if 'PORT' in env:
                env['MASTER_PORT'] = env['PORT']
        else:
            raise LaunchError('usage: python -P hexa_mm/utils/launch.py '
                              '{torchrun,slurm,worker} ARGS')
    except LaunchError as error:
        print(f'error: {error}', file=sys.stderr)
        return 2
    return run_workers(command, env)


if __name__ == '__main__':
    sys.exit(main())
