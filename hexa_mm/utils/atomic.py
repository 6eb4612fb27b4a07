"""Write a file so that a failure or a kill never leaves a half-written one."""
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Iterator

__all__ = ['atomic_path', 'TMP_PREFIX']

# the name of every temporary file starts so
TMP_PREFIX = '.tmp-'


@contextmanager
def atomic_path(out: str) -> Iterator[str]:
    """A temporary path beside ``out`` that becomes ``out`` on success.

    Write to the yielded path inside the block; when the block ends without
    an exception the file is flushed to disk and replaces ``out`` in one
    step, otherwise it is removed and ``out`` stays as it was. A process
    killed inside the block leaves ``out`` as it was and a temporary file
    named ``.tmp-*`` beside it.

    Args:
        out (str): The destination; its folder is created if needed.

    Yields:
        str: The temporary file to write.
    """
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    suffix = osp.splitext(out)[1]
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=suffix, dir=folder)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # as open() would make it, not 0600
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, out)
        try:
            _fsync(folder)  # the rename itself; not every file system can
        except OSError:
            pass
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _umask() -> int:
    """The process's file mode creation mask.

    Returns:
        int: The mask.
    """
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync(path: str) -> None:
    """Flush a file's (or a folder's) data to disk.

    Args:
        path (str): The file or folder.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
