"""The work dir of a run: usable, used by one run at a time, and where the
checkpoint to resume from is."""
import os
import os.path as osp
import re
import socket
import tempfile
import time
from typing import Dict, Optional

from hexa_mm.utils.atomic import TMP_PREFIX
from hexa_mm.utils.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, runs are not guarded
    fcntl = None

__all__ = [
    'check_work_dir', 'lock_work_dir', 'unlock_work_dir', 'find_resumable'
]

LOCK_FILE = '.hexa_mm.lock'
# the names CheckpointHook and SafeCheckpointHook give their checkpoints
CHECKPOINT_NAME = re.compile(r'^(epoch_\d+|iter_\d+|latest)\.pth$')

# work dirs this process holds, to their lock file's descriptor
_held: Dict[str, int] = {}


def check_work_dir(work_dir: str) -> None:
    """Refuse a work dir that cannot hold a run's files, before anything is
    written.

    Args:
        work_dir (str): The work dir; it need not exist yet.

    Raises:
        ConfigError: If it (or the nearest existing folder above it, where
            it would be made) is a file or cannot be written to.
    """
    path = osp.abspath(work_dir)
    if osp.exists(path) and not osp.isdir(path):
        raise ConfigError(f'work dir {work_dir} is a file, not a folder: '
                          'pass another --work-dir')
    existing = path
    while not osp.exists(existing):
        existing = osp.dirname(existing)
    if not osp.isdir(existing):
        raise ConfigError(f'work dir {work_dir} cannot be made: {existing} '
                          'is a file: pass another --work-dir')
    try:
        with tempfile.TemporaryFile(prefix=TMP_PREFIX, dir=existing):
            pass
    except OSError as err:
        raise ConfigError(f'work dir {work_dir} cannot be written to '
                          f'({existing}: {err.strerror}): pass a --work-dir '
                          'you can write to') from err


def lock_work_dir(work_dir: str) -> None:
    """Take the work dir for this process, or refuse.

    The lock is an advisory ``flock`` of a file in the work dir, which the
    system releases when the process ends, however it ends: a killed run
    never blocks the next. Taking it again in the process that holds it does
    nothing.

    Args:
        work_dir (str): The work dir (it exists).

    Raises:
        ConfigError: If another process holds it; the message says which.
    """
    path = osp.realpath(work_dir)
    if fcntl is None or path in _held:
        return
    fd = os.open(osp.join(path, LOCK_FILE), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 200).decode(errors='replace').strip()
        os.close(fd)
        raise ConfigError(
            f'work dir {work_dir} is in use by another run '
            f'({holder or "unknown process"}): wait for it to end, or pass '
            'another --work-dir') from None
    os.ftruncate(fd, 0)
    os.write(
        fd, f'pid {os.getpid()} on {socket.gethostname()} since '
        f'{time.strftime("%Y-%m-%d %H:%M:%S")}'.encode())
    _held[path] = fd


def unlock_work_dir(work_dir: str) -> None:
    """Release a work dir this process holds (if it does).

    Args:
        work_dir (str): The work dir.
    """
    fd = _held.pop(osp.realpath(work_dir), None)
    if fd is not None:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def find_resumable(work_dir: str) -> Optional[str]:
    """The checkpoint an auto-resumed run continues from.

    The file ``last_checkpoint`` names (looked for in the work dir too, if
    the work dir was moved); without it, the newest checkpoint file in the
    work dir.

    Args:
        work_dir (str): The work dir.

    Returns:
        str, optional: The checkpoint, or None if there is none.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            named = f.read().strip()
        for path in (named, osp.join(work_dir, osp.basename(named))):
            if named and osp.isfile(path):
                return path
    names = [
        name for name in os.listdir(work_dir) if CHECKPOINT_NAME.match(name)
    ] if osp.isdir(work_dir) else []
    if not names:
        return None
    return max((osp.join(work_dir, name) for name in names), key=osp.getmtime)
