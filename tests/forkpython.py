"""``python`` for the shell tools under test (``PYTHON``), forking each
``python [-u] [-P] SCRIPT.py ARGS...`` from a preloaded server.

:func:`forkrun.python_env` starts the server (``forkrun.py SOCKET``) and
gives the environment that points ``PYTHON`` here. This client passes its
argument vector, environment, working directory and standard streams to the
server through the Unix socket ``FORKRUN_SOCKET``, forwards the signals that
end a process (SIGTERM, SIGINT, SIGHUP) to the child's group, and ends as
the child ended: its exit status, or killed by the same signal. torchrun
(``python -m torch.distributed.run``, which imports torch: 3 s of CPU a
launch) is forked too, as ``-m`` runs it. Anything else (another ``-m``,
``-c``, other options) runs the real interpreter (``FORKRUN_PYTHON``) in its
place, and so does hexa_mm's launcher (``launch.py torchrun|slurm ...``,
standard library only); its workers (``launch.py worker SCRIPT``) are
forked. So a forked torchrun's parent is the server, not the launcher: the
launcher's ``PDEATHSIG`` reaches this client, which passes the signal on;
the tests of what a kill leaves (``tests/test_tools/test_launchers.py``)
run torchrun and the workers cold. This client imports only the standard
library, so it starts in milliseconds.
"""
import json
import os
import signal
import socket
import sys
from typing import List

# the options taken before the script: -u (unbuffered), -P (no script
# folder on sys.path)
FLAGS = {'-u': 'unbuffered', '-P': 'safe_path'}
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# the modules run with -m that are forked too: torchrun
FORKED_MODULES = ('torch.distributed.run', )


def main(argv: List[str]) -> int:
    """Run ``python ARGV`` forked, or the real interpreter.

    Args:
        argv (list[str]): The arguments after ``python``.

    Returns:
        int: The child's exit status (if a signal ended it, this process
        ends by the same signal instead of returning).
    """
    options = []
    while argv and argv[0] in FLAGS:
        options.append(argv.pop(0))
    launcher = argv[:1] and os.path.basename(argv[0]) == 'launch.py' \
        and argv[1:2] != ['worker']
    module = argv[1] if argv[:1] == ['-m'] and argv[1:2] and \
        argv[1] in FORKED_MODULES else None
    if module is None and (not argv or not argv[0].endswith('.py')
                           or launcher):
        real = os.environ['FORKRUN_PYTHON']
        os.execv(real, [real, *options, *argv])
    if module is not None:
        argv = ['-m', *argv[2:]]
    request = dict(argv=argv,
                   env=dict(os.environ),
                   cwd=os.getcwd(),
                   **({} if module is None else dict(module=module)),
                   **{FLAGS[option]: True
                      for option in options})
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(os.environ['FORKRUN_SOCKET'])
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    pid = json.loads(conn.recv(1 << 16))['pid']

    def forward(sig: int, _) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    answer = conn.recv(1 << 16)
    status = json.loads(answer)['status'] if answer else -signal.SIGKILL
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
