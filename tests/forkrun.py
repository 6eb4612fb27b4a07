"""Run the repository's Python tools from a preloaded process, for tests.

A cold ``python tools/x.py`` spends seconds importing torch, mmengine,
mmpretrain (and mmdet through it) and hexa_mm before doing anything. Tests
that run a tool only to check its exit status, its output or its files go
through :func:`run_python` instead: a server started once per session (and
per hexa_mm checkout: the first ``PYTHONPATH`` entry that holds one) imports
those packages, runs no torch operation (so no thread pool exists), then
forks a child per request. The child takes the request's working directory,
environment (``os.environ`` replaced), argument vector, ``sys.path`` (the
script's folder first, then the entries of its ``PYTHONPATH`` that the
server's lacks) and thread count
(``OMP_NUM_THREADS``), sends its standard output and error to files, reseeds
numpy's global generator from the OS (as a fresh process would be), runs the
script as ``__main__`` and exits with its status: a ``SystemExit`` code, or
1 and the traceback on standard error for an uncaught exception.

What differs from a cold start, and so stays with ``subprocess`` in the
tests: hexa_mm is imported before the tool runs (a runner resolved before
hexa_mm is imported needs a cold start; a user package imported through
``custom_imports`` is not preloaded, and registers as in a cold start); the process
has the server as parent (launchers, signals, ``PDEATHSIG``); Python options
(``-u``, ``-P``, ``-c``, ``-m``) are not taken. :func:`run_python` runs cold
what it cannot fork (a path that is not a ``.py`` file).

A distributed run, ``torchrun --nproc_per_node=N SCRIPT ...`` without
torchrun, is :func:`start_python` with ``nproc=N``: the server forks the N
ranks at once, each with the variables torchrun gives its workers (``RANK``,
``LOCAL_RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE``, ``GROUP_RANK``,
``ROLE_RANK``, ``ROLE_WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``); as
torchrun does, once a rank fails the others get SIGTERM (SIGKILL
:data:`GRACE` seconds later). The ranks are processes of their own (each the
leader of its group), so a test can SIGKILL them; what a test of the launcher
itself reads (its arguments, its signals, its process tree) stays with
torchrun.

A shell tool (``tools/dist_train.sh``, ``tools/demo.sh``...) runs its Python
through ``$PYTHON``: with the environment of :func:`python_env`, that is
``tests/forkpython.py``, a client of a second kind of server
(:func:`serve_socket`) that forks each ``python SCRIPT.py`` it is asked for,
several at once (the workers torchrun starts together), with the client's
standard streams, and torchrun itself (``python -m torch.distributed.run``);
bash and hexa_mm's launcher stay real processes.

The server is this file run as a script: with no argument it reads one JSON
request a line on standard input and answers the children's pids, then
their exit statuses; with a path it serves that Unix socket.
"""
import atexit
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

PathLike = Union[str, Path]

# what `import hexa_mm` loads, in the order a tool imports it
PRELOAD = ('torch', 'mmengine.runner', 'mmpretrain', 'hexa_mm')
# seconds between the SIGTERM and the SIGKILL of the ranks left when one
# fails (torchrun's default)
GRACE = 30


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


def _child(request: Dict, env: Dict[str, str],
           fds: Optional[Sequence[int]]) -> int:
    """Become the requested tool run (in the forked child).

    Args:
        request (dict): ``argv`` (the script first), ``cwd``; ``stdout``
            and ``stderr`` (file paths) when ``fds`` is None; optionally
            ``unbuffered`` and ``safe_path`` (Python's ``-u`` and ``-P``),
            and ``module``: run it as ``python -m MODULE`` (``argv[0]`` is
            then replaced by its file).
        env (dict[str, str]): The child's environment.
        fds (Sequence[int], optional): Its standard input, output and error,
            else ``/dev/null`` and the request's files.

    Returns:
        int: The exit status.
    """
    import runpy
    import traceback

    import numpy as np
    import torch

    os.setpgid(0, 0)
    if fds is None:
        fds = [os.open(os.devnull, os.O_RDONLY)] + [
            os.open(request[name], os.O_WRONLY | os.O_APPEND)
            for name in ('stdout', 'stderr')
        ]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in set(fds) - {0, 1, 2}:
        os.close(fd)
    if request.get('unbuffered'):
        for stream in (sys.stdout, sys.stderr):
            stream.reconfigure(write_through=True)
    os.chdir(request['cwd'])
    own = os.environ.get('PYTHONPATH', '').split(os.pathsep)
    os.environ.clear()
    os.environ.update(env)
    threads = os.environ.get('OMP_NUM_THREADS', '')
    torch.set_num_threads(
        int(threads) if threads.isdigit() else len(os.sched_getaffinity(0)))
    np.random.seed(int.from_bytes(os.urandom(4), 'little'))
    module = request.get('module')
    script = request['argv'][0]
    sys.argv = list(request['argv'])
    # as a cold start: the request's PYTHONPATH in place of the server's
    sys.path[:] = [
        path for path in env.get('PYTHONPATH', '').split(os.pathsep) if path
    ] + [path for path in sys.path if path not in own]
    if not request.get('safe_path'):  # -m: the working directory first
        sys.path.insert(
            0,
            os.getcwd() if module else os.path.dirname(
                os.path.realpath(script)))
    try:
        if module:  # sys.argv[0] becomes the module's file, as with -m
            runpy.run_module(module, run_name='__main__', alter_sys=True)
        else:
            runpy.run_path(script, run_name='__main__')
        status = 0
    except SystemExit as exit_:
        status = _exit_status(exit_.code)
    except BaseException:  # an uncaught exception, as Python reports it
        traceback.print_exc()
        status = 1
    return status


def _fork(request: Dict,
          env: Dict[str, str],
          fds: Optional[Sequence[int]] = None,
          close: Sequence = ()) -> int:
    """Fork a child that runs the request with ``env`` and exits, the leader
    of a new process group from the moment its pid is returned.

    Args:
        request (dict): See :func:`_child`.
        env (dict[str, str]): The child's environment.
        fds (Sequence[int], optional): See :func:`_child`.
        close (Sequence): What the child closes first (the server's
            sockets).

    Returns:
        int: The child's pid.
    """
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            for resource in close:
                resource.close()
            status = _child(request, env, fds)
        finally:
            threading._shutdown()  # what interpreter exit does first
            atexit._run_exitfuncs()
            for stream in (sys.stdout, sys.stderr, sys.__stdout__,
                           sys.__stderr__):
                stream.flush()
            os._exit(status)
    try:  # the child does the same: its group exists once either has
        os.setpgid(pid, pid)
    except OSError:  # it has done it, or has already ended
        pass
    return pid


def _signal_group(pid: int, sig: int) -> None:
    """Send ``sig`` to the group ``pid`` leads, if it still exists."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass


def _wait_all(pids: List[int]) -> List[int]:
    """Wait for every child; once one fails, stop the others as torchrun
    does (SIGTERM, SIGKILL :data:`GRACE` seconds later).

    Args:
        pids (list[int]): The children.

    Returns:
        list[int]: Their exit statuses (``-N`` when killed by signal
        ``N``), in the order of ``pids``.
    """
    status: Dict[int, int] = {}
    stopped = None
    while len(status) < len(pids):
        pid, wait_status = os.waitpid(-1, 0 if stopped is None else os.WNOHANG)
        if pid == 0:  # stopping, none ended yet
            if time.monotonic() - stopped > GRACE:
                for other in set(pids) - set(status):
                    _signal_group(other, signal.SIGKILL)
            time.sleep(0.1)
            continue
        status[pid] = os.waitstatus_to_exitcode(wait_status)
        if status[pid] != 0 and stopped is None:
            stopped = time.monotonic()
            for other in set(pids) - set(status):
                _signal_group(other, signal.SIGTERM)
    return [status[pid] for pid in pids]


def _preload() -> None:
    """Import :data:`PRELOAD` in the server, from the path a tool gets, then
    freeze what they allocated (``gc.freeze``): a collection in a child
    (mmengine's datasets ask for a full one each) walks only what the child
    allocated, not the half million objects of the imports (a quarter of a
    second each time)."""
    del sys.path[0]  # tests/, where this file lies: not a tool's path
    for module in PRELOAD:
        __import__(module)
    gc.freeze()


def serve() -> None:
    """Preload, then for each request read on standard input fork a child
    per environment of its ``envs``; answer ``{"pids": [...]}`` when they
    start and ``{"status": [...]}`` (``subprocess`` return codes) when every
    one has ended. Ends at end of input."""
    _preload()
    answers = sys.stdout
    for line in sys.stdin:
        request = json.loads(line)
        answers.flush()
        sys.stderr.flush()
        pids = [_fork(request, env) for env in request['envs']]
        print(json.dumps(dict(pids=pids)), file=answers, flush=True)
        print(json.dumps(dict(status=_wait_all(pids))),
              file=answers,
              flush=True)


def serve_socket(path: str) -> None:
    """Preload, then fork a child for each client of the Unix socket
    ``path`` (``tests/forkpython.py``, the ``python`` of the shell tools
    under test), several at once. A client sends one JSON request (``argv``,
    ``env``, ``cwd``, ``unbuffered``, ``safe_path``) with its standard
    input, output and error; it is answered ``{"pid": ...}`` when its child
    starts and ``{"status": ...}`` when the child ends. A client that ends
    first (killed) takes its child's group with it. Ends, killing the
    children left, at the end of standard input.

    Args:
        path (str): The socket to create.
    """
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(path)
    listener.listen(64)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    clients: Dict[int, socket.socket] = {}
    while True:
        for key, _ in selector.select(timeout=0.1):
            if key.fileobj is sys.stdin:
                if not sys.stdin.readline():
                    for pid in clients:
                        _signal_group(pid, signal.SIGKILL)
                    return
            elif key.fileobj is listener:
                conn, _ = listener.accept()
                message, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
                request = json.loads(message)
                sys.stdout.flush()
                sys.stderr.flush()
                pid = _fork(request, request['env'], fds,
                            [listener, selector, *clients.values(), conn])
                for fd in fds:
                    os.close(fd)
                conn.send(json.dumps(dict(pid=pid)).encode())
                clients[pid] = conn
                selector.register(conn, selectors.EVENT_READ, pid)
            else:  # readable: its client has gone
                _signal_group(key.data, signal.SIGKILL)
                selector.unregister(key.fileobj)
        while clients:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = clients.pop(pid)
            if conn in (key.fileobj for key in selector.get_map().values()):
                selector.unregister(conn)
            status = os.waitstatus_to_exitcode(wait_status)
            try:
                conn.send(json.dumps(dict(status=status)).encode())
            except OSError:  # the client has gone
                pass
            conn.close()


class ForkedRun:
    """The children of one request while they run, as ``subprocess.Popen``
    gives a process: :meth:`poll`, :meth:`wait`, :attr:`returncode`.

    The server answers nothing else until they have all ended.

    Args:
        server (ForkServer): The server that forked them; its lock is held
            and released when they have ended.
        argv (list[str]): The script, then its arguments.
        pids (list[int]): The children, one a rank.
        log (Path, optional): The file their output goes to, if one.
    """

    def __init__(self,
                 server: 'ForkServer',
                 argv: List[str],
                 pids: List[int],
                 log: Optional[Path] = None) -> None:
        self.args = [sys.executable, *argv]
        self.pids = pids
        self.log = log
        self.statuses: Optional[List[int]] = None
        self._server = server
        self._ended = threading.Thread(target=self._read_statuses, daemon=True)
        self._ended.start()

    def _read_statuses(self) -> None:
        try:
            self.statuses = self._server._answer()['status']
        finally:
            self._server.lock.release()

    @property
    def returncode(self) -> Optional[int]:
        """The first non-zero status in rank order (0 when every rank
        succeeded), or None while any runs."""
        if self.statuses is None:
            return None
        return next((status for status in self.statuses if status), 0)

    def poll(self) -> Optional[int]:
        """:attr:`returncode`, without waiting."""
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait until every child has ended.

        Args:
            timeout (float, optional): Seconds before they are killed (with
                their groups) and ``subprocess.TimeoutExpired`` raised.

        Returns:
            int: :attr:`returncode`.
        """
        self._ended.join(timeout)
        if self._ended.is_alive():
            self.kill()
            self._ended.join()
            raise subprocess.TimeoutExpired(self.args, timeout)
        if self.statuses is None:
            raise RuntimeError('the fork server ended: '
                               f'status {self._server.proc.wait()}')
        return self.returncode

    def kill(self) -> None:
        """SIGKILL every child with its process group."""
        for pid in self.pids:
            _signal_group(pid, signal.SIGKILL)


class ForkServer:
    """A running server (see :func:`serve`) for one hexa_mm checkout.

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

    def start(self, argv: List[str], envs: List[Dict[str, str]], cwd: str,
              stdout: str, stderr: str) -> ForkedRun:
        """Fork a child per environment, each running a script.

        Args:
            argv (list[str]): The script, then its arguments.
            envs (list[dict[str, str]]): The children's environments.
            cwd (str): Their working directory.
            stdout (str): The file their standard output is appended to.
            stderr (str): The file their standard error is appended to.

        Returns:
            ForkedRun: The running children.
        """
        self.lock.acquire()
        try:
            request = dict(argv=argv,
                           envs=envs,
                           cwd=cwd,
                           stdout=stdout,
                           stderr=stderr)
            self.proc.stdin.write(json.dumps(request) + '\n')
            self.proc.stdin.flush()
            pids = self._answer()['pids']
        except BaseException:
            self.lock.release()
            raise
        return ForkedRun(self, argv, pids)

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
        with tempfile.TemporaryDirectory() as tmp:
            paths = [os.path.join(tmp, 'stdout'), os.path.join(tmp, 'stderr')]
            for path in paths:
                Path(path).touch()
            if merge:
                paths[1] = paths[0]
            child = self.start(argv, [env], cwd, *paths)
            expired = None
            try:
                status = child.wait(timeout)
            except subprocess.TimeoutExpired as err:
                expired = err
            stdout = Path(paths[0]).read_text(errors='replace')
            stderr = None if merge else Path(paths[1]).read_text(
                errors='replace')
            if expired is not None:
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


class SocketServer:
    """A running :func:`serve_socket` server for one hexa_mm checkout, with
    the ``python`` that its clients run (``tests/forkpython.py``).

    Args:
        env (dict[str, str]): Its environment (its ``PYTHONPATH`` decides
            which hexa_mm it imports).
    """

    def __init__(self, env: Dict[str, str]) -> None:
        self.folder = tempfile.mkdtemp(prefix='forkpython-')
        self.socket = os.path.join(self.folder, 'socket')
        self.python = os.path.join(self.folder, 'python')
        client = Path(__file__).with_name('forkpython.py')
        Path(self.python).write_text(
            f'#!{sys.executable} -S\n'
            f'import runpy\nrunpy.run_path({str(client)!r}, '
            "run_name='__main__')\n")
        os.chmod(self.python, 0o755)
        self.proc = subprocess.Popen([sys.executable, __file__, self.socket],
                                     stdin=subprocess.PIPE,
                                     env=env,
                                     text=True)
        deadline = time.monotonic() + 600
        while not os.path.exists(self.socket):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError('the fork server did not start: '
                                   f'status {self.proc.poll()}')
            time.sleep(0.1)

    def close(self) -> None:
        """End the server (with any child left) and remove its files."""
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


_SERVERS: Dict[Optional[str], ForkServer] = {}
_SOCKET_SERVERS: Dict[Optional[str], SocketServer] = {}


def _hexa_mm_root(env: Dict[str, str]) -> Optional[str]:
    """The folder ``env``'s ``PYTHONPATH`` imports hexa_mm from: a server's
    key (its children add the rest of their ``PYTHONPATH``).

    Args:
        env (dict[str, str]): An environment.

    Returns:
        str, optional: The first ``PYTHONPATH`` entry that holds
        ``hexa_mm/__init__.py`` (resolved), or None (the installed hexa_mm).
    """
    for path in env.get('PYTHONPATH', '').split(os.pathsep):
        if path and os.path.isfile(os.path.join(path, 'hexa_mm',
                                                '__init__.py')):
            return os.path.realpath(path)
    return None


def _server_env(env: Dict[str, str], key: Optional[str]) -> Dict[str, str]:
    """A server's environment: ``env`` with one thread and ``key`` as its
    whole ``PYTHONPATH``."""
    server_env = {
        name: value
        for name, value in env.items() if name != 'PYTHONPATH'
    }
    if key is not None:
        server_env['PYTHONPATH'] = key
    server_env['OMP_NUM_THREADS'] = '1'
    return server_env


def _server(env: Dict[str, str]) -> ForkServer:
    """The server for the hexa_mm ``env`` imports, started on first use."""
    key = _hexa_mm_root(env)
    if key not in _SERVERS:
        _SERVERS[key] = ForkServer(_server_env(os.environ, key))
    return _SERVERS[key]


def close_servers() -> None:
    """End every server (at the end of the session)."""
    for servers in (_SERVERS, _SOCKET_SERVERS):
        while servers:
            servers.popitem()[1].close()


atexit.register(close_servers)  # whatever started them


def python_env(env: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """An environment whose ``PYTHON`` forks ``python [-u] [-P] SCRIPT.py``
    from a preloaded server (``tests/forkpython.py``), for the shell tools
    that run ``$PYTHON``: their launchers stay real, their Python tools do
    not start cold. The server (one per hexa_mm checkout) starts on first
    use.

    Args:
        env (dict[str, str], optional): The environment to extend; this
            process's when None.

    Returns:
        dict[str, str]: ``env`` with ``PYTHON``, ``FORKRUN_SOCKET`` and
        ``FORKRUN_PYTHON`` (the real interpreter).
    """
    env = dict(os.environ if env is None else env)
    key = _hexa_mm_root(env)
    if key not in _SOCKET_SERVERS:
        _SOCKET_SERVERS[key] = SocketServer(_server_env(env, key))
    server = _SOCKET_SERVERS[key]
    return dict(env,
                PYTHON=server.python,
                FORKRUN_SOCKET=server.socket,
                FORKRUN_PYTHON=sys.executable)


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


def rank_envs(env: Dict[str, str], nproc: int,
              master_port: int) -> List[Dict[str, str]]:
    """The environments torchrun gives the workers of a one-node run.

    Args:
        env (dict[str, str]): The environment torchrun would be given.
        nproc (int): ``--nproc_per_node``.
        master_port (int): ``--master_port`` (``MASTER_ADDR`` is
            127.0.0.1).

    Returns:
        list[dict[str, str]]: One environment a rank.
    """
    envs = []
    for rank in range(nproc):
        envs.append(
            dict(env,
                 RANK=str(rank),
                 LOCAL_RANK=str(rank),
                 GROUP_RANK='0',
                 ROLE_RANK=str(rank),
                 WORLD_SIZE=str(nproc),
                 LOCAL_WORLD_SIZE=str(nproc),
                 ROLE_WORLD_SIZE=str(nproc),
                 MASTER_ADDR='127.0.0.1',
                 MASTER_PORT=str(master_port)))
    return envs


def start_python(args: Sequence[PathLike],
                 log: PathLike,
                 env: Optional[Dict[str, str]] = None,
                 cwd: Optional[PathLike] = None,
                 nproc: int = 1,
                 master_port: Optional[int] = None) -> ForkedRun:
    """Start ``python SCRIPT ARGS...`` forked from the preloaded server and
    return at once; with ``nproc`` > 1, ``torchrun --nnodes=1
    --nproc_per_node=NPROC SCRIPT ARGS...`` (see the module's docstring).

    Args:
        args (Sequence[str | Path]): The script (a ``.py`` file), then its
            arguments.
        log (str | Path): The file that receives the standard output and
            error of every rank (created or emptied).
        env (dict[str, str], optional): The environment; this process's
            when None.
        cwd (str | Path, optional): The working directory; this process's
            when None.
        nproc (int): Processes (ranks). Defaults to 1 (a plain run, no rank
            variables).
        master_port (int, optional): The rendezvous port of a run of
            several ranks; :func:`hexa_mm.testing.free_port` when None.

    Returns:
        ForkedRun: The running ranks (``log``: the file); until they end,
        the server (for this hexa_mm checkout) serves nothing else.
    """
    argv = [str(arg) for arg in args]
    env = dict(os.environ if env is None else env)
    envs = [env]
    if nproc > 1:
        if master_port is None:
            from hexa_mm.testing import free_port
            master_port = free_port()
        envs = rank_envs(env, nproc, master_port)
    Path(log).write_text('')
    run = _server(env).start(argv, envs, str(cwd or os.getcwd()), str(log),
                             str(log))
    run.log = Path(log)
    return run


if __name__ == '__main__':
    if len(sys.argv) > 1:
        serve_socket(sys.argv[1])
    else:
        serve()
