"""Run a tool script as a worker that ends when its parent ends.

    python -m hexa_mm.utils.worker SCRIPT [script arguments]

torchrun starts every worker in a session of its own: a signal to the
launcher's process group, or ``kill -9`` of torchrun, does not reach the
workers, which would go on training with nobody to collect them.
``tools/dist_train.sh`` therefore has torchrun run each worker through this
module (and ``tools/slurm_train.sh`` each task), which asks Linux to send the
worker ``SIGTERM`` when its parent dies (``prctl(PR_SET_PDEATHSIG)``), then
runs ``SCRIPT`` as ``python SCRIPT`` would, except that standard error is
line-buffered (workers run with ``python -u``): a line such as ``error: ...``
reaches the shared stream in one write, not interleaved with the same line
from another worker.
"""
import ctypes
import os
import os.path as osp
import runpy
import signal
import sys

__all__ = ['die_with_parent', 'main']

PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int, sig: int = signal.SIGTERM) -> None:
    """Have this process receive ``sig`` when its parent dies (Linux).

    Elsewhere nothing is done.

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


def main() -> None:
    """Run the script given on the command line, as its ``__main__``."""
    die_with_parent(os.getppid())
    if len(sys.argv) < 2:
        sys.exit('usage: python -m hexa_mm.utils.worker SCRIPT [ARGS]')
    sys.stderr.reconfigure(line_buffering=True, write_through=False)
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    sys.path[0] = osp.dirname(osp.abspath(script))
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
