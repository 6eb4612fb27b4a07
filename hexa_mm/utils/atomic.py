"""Write a file so that a failure never leaves a half-written one."""
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import Iterator

__all__ = ['atomic_path']


@contextmanager
def atomic_path(out: str) -> Iterator[str]:
    """A temporary path beside ``out`` that becomes ``out`` on success.

    Write to the yielded path inside the block; when the block ends without
    an exception the file replaces ``out`` in one step, otherwise it is
    removed and ``out`` stays as it was.

    Args:
        out (str): The destination; its folder is created if needed.

    Yields:
        str: The temporary file to write.
    """
    folder = osp.dirname(osp.abspath(out))
    os.makedirs(folder, exist_ok=True)
    suffix = osp.splitext(out)[1]
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix=suffix, dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
