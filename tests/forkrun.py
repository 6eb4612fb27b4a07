"""Run the repository's Python tools from a preloaded process, for tests.

A cold ``python tools/x.py`` spends seconds importing torch, mmengine,
mmpretrain (and mmdet through it) and hexa_mm before doing anything. Tests
that run a tool only to check its exit status, its output or its files go
through :func:`run_python` instead: a server started once per session (and
per ``PYTHONPATH``) imports those packages, runs no torch operation (so no
thread pool exists), then forks a child per request. The child takes the
request's working directory, environment (``os.environ`` replaced), argument
vector, ``sys.path[0]`` (the script's folder) and thread count
(``OMP_NUM_THREADS``), sends its standard output and error to files, reseeds
numpy's global generator from the OS (as a fresh process would be), runs the
script as ``__main__`` and exits with its status: a ``SystemExit`` code, or
1 and the traceback on standard error for an uncaught exception.

What differs from a cold start, and so stays with ``subprocess`` in the
tests: the registries are those of ``import hexa_mm`` (a user package
registered through ``custom_imports``, or a runner resolved before hexa_mm is
imported, needs a cold start); the process is not the leader of a group and
has the server as parent (launchers, signals, ``PDEATHSIG``, locks held by
another process); Python options (``-u``, ``-P``, ``-c``, ``-m``) are not
taken. :func:`run_python` runs cold what it cannot fork (a path that is not a
``.py`` file).

The server is this file run as a script: it reads one JSON request a line
on standard input and answers the child's pid, then its exit status.
"""
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

PathLike = Union[str, Path]

# what `import hexa_mm` loads, in the order a tool imports it
PRELOAD = ('torch', 'mmengine.runner', 'mmpretrain', 'hexa_mm')


def _exit_status(code: object) -> int:
    """The exit status Python gives a ``SystemExit`` code.

    Args:
        code (object): ``SystemExit.code``.

    Returns:
        int: 0 for None, the code for an int, else 1 (the code printed on
        standard error, as Python does).
    """
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(request: Dict) -> int:
    """Become the requested tool run (in the forked child).

    Args:
        request (dict): ``argv`` (the script first), ``env``, ``cwd``,
            ``stdout`` and ``stderr`` (file paths).

    Returns:
        int: The exit status.
    """
    import runpy
    import traceback

    import numpy as np
    import torch

    os.setpgid(0, 0)
    stdin = os.open(os.devnull, os.O_RDONLY)
    os.dup2(stdin, 0)
    for fd, path in ((1, request['stdout']), (2, request['stderr'])):
        out = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(out, fd)
        os.close(out)
    os.chdir(request['cwd'])
    os.environ.clear()
    os.environ.update(request['env'])
    threads = os.environ.get('OMP_NUM_THREADS', '')
    torch.set_num_threads(
        int(threads) if threads.isdigit() else len(os.sched_getaffinity(0)))
    np.random.seed(int.from_bytes(os.urandom(4), 'little'))
    script = request['argv'][0]
    sys.argv = list(request['argv'])
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    try:
        runpy.run_path(script, run_name='__main__')
        status = 0
    except SystemExit as exit_:
        status = _exit_status(exit_.code)
    except BaseException:  # an uncaught exception, as Python reports it
        traceback.print_exc()
        status = 1
    return status


def serve() -> None:
    """Preload, then fork a child for each request read on standard input;
    answer ``{"pid": ...}`` when it starts and ``{"status": ...}`` (the
    ``subprocess`` return code) when it ends. Ends at end of input."""
    del sys.path[0]  # tests/, where this file lies: not a tool's path
    for module in PRELOAD:
        __import__(module)
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        answers.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                status = _child(request)
            finally:
                threading._shutdown()  # what interpreter exit does first
                atexit._run_exitfuncs()
                for stream in (sys.stdout, sys.stderr, sys.__stdout__,
                               sys.__stderr__):
                    stream.flush()
                os._exit(status)
        print(json.dumps(dict(pid=pid)), file=answers, flush=True)
        _, wait_status = os.waitpid(pid, 0)
        status = os.waitstatus_to_exitcode(wait_status)
        print(json.dumps(dict(status=status)), file=answers, flush=True)


class ForkServer:
    """A running server (see :func:`serve`) for one ``PYTHONPATH``.

    Args:
        env (dict[str, str]): Its environment (its ``PYTHONPATH`` decides
            which hexa_mm it imports).
    """

    def __init__(self, env: Dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     env=env,
                                     text=True)
        self.lock = threading.Lock()

    def run(self, argv: List[str], env: Dict[str, str], cwd: str,
            timeout: float, merge: bool) -> subprocess.CompletedProcess:
        """Run a script in a forked child.

        Args:
            argv (list[str]): The script, then its arguments.
            env (dict[str, str]): Its environment.
            cwd (str): Its working directory.
            timeout (float): Seconds before it is killed and
                ``subprocess.TimeoutExpired`` raised.
            merge (bool): Standard error into standard output.

        Returns:
            subprocess.CompletedProcess: Its status and text outputs.
        """
        with self.lock, tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, 'stdout'), os.path.join(tmp, 'stderr')]
            for path in paths:
                Path(path).touch()
            if merge:
                paths[1] = paths[0]
            request = dict(argv=argv,
                           env=env,
                           cwd=cwd,
                           stdout=paths[0],
                           stderr=paths[1])
            self.proc.stdin.write(json.dumps(request) + '\n')
            self.proc.stdin.flush()
            pid = self._answer()['pid']
            expired = threading.Event()
            timer = threading.Timer(timeout, _kill_group, (pid, expired))
            timer.start()
            try:
                status = self._answer()['status']
            finally:
                timer.cancel()
            stdout = Path(paths[0]).read_text(errors='replace')
            stderr = None if merge else Path(paths[1]).read_text(
                errors='replace')
            if expired.is_set():
                raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr)
            return subprocess.CompletedProcess([sys.executable, *argv], status,
                                               stdout, stderr)

    def _answer(self) -> Dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError('the fork server ended: '
                               f'status {self.proc.wait()}')
        return json.loads(line)

    def close(self) -> None:
        """End the server (it ends at the end of its input)."""
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def _kill_group(pid: int, expired: threading.Event) -> None:
    """SIGKILL a child that ran out of time, with its process group.

    Args:
        pid (int): The child, leader of its group.
        expired (threading.Event): Set once the kill is sent.
    """
    try:
        os.killpg(pid, signal.SIGKILL)
        expired.set()
    except ProcessLookupError:  # it ended meanwhile
        pass


_SERVERS: Dict[Optional[str], ForkServer] = {}


def _server(env: Dict[str, str]) -> ForkServer:
    """The server for ``env``'s ``PYTHONPATH``, started on first use."""
    key = env.get('PYTHONPATH')
    if key not in _SERVERS:
        server_env = {
            name: value
            for name, value in os.environ.items() if name != 'PYTHONPATH'
        }
        if key is not None:
            server_env['PYTHONPATH'] = key
        server_env['OMP_NUM_THREADS'] = '1'
        _SERVERS[key] = ForkServer(server_env)
        if len(_SERVERS) == 1:
            atexit.register(close_servers)
    return _SERVERS[key]


def close_servers() -> None:
    """End every server (at the end of the session)."""
    while _SERVERS:
        _SERVERS.popitem()[1].close()


def run_python(args: Sequence[PathLike],
               env: Optional[Dict[str, str]] = None,
               cwd: Optional[PathLike] = None,
               timeout: float = 900,
               stderr_to_stdout: bool = False) -> subprocess.CompletedProcess:
    """``python SCRIPT ARGS...`` as the tests run it, forked from a preloaded
    server (cold, through ``subprocess``, when ``SCRIPT`` is not a ``.py``
    file).

    Args:
        args (Sequence[str | Path]): The script, then its arguments.
        env (dict[str, str], optional): Its environment; this process's
            when None.
        cwd (str | Path, optional): Its working directory; this process's
            when None.
        timeout (float): Seconds before it is killed and
            ``subprocess.TimeoutExpired`` raised.
        stderr_to_stdout (bool): Standard error into standard output (then
            ``stderr`` is None), as ``stderr=subprocess.STDOUT``.

    Returns:
        subprocess.CompletedProcess: The return code (``-N`` when killed by
        signal ``N``), ``stdout`` and ``stderr`` as text.
    """
    argv = [str(arg) for arg in args]
    env = dict(os.environ if env is None else env)
    cwd = str(cwd or os.getcwd())
    if not argv[0].endswith('.py'):
        return subprocess.run(
            [sys.executable, *argv],
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if stderr_to_stdout else subprocess.PIPE,
            text=True,
            timeout=timeout)
    return _server(env).run(argv, env, cwd, timeout, stderr_to_stdout)


if __name__ == '__main__':
    serve()
