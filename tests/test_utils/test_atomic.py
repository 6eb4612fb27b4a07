"""Tests of hexa_mm.utils.atomic: a failed write leaves the old file and no
temporary file behind."""
import os

import pytest

from hexa_mm.utils.atomic import TMP_PREFIX, atomic_path


def test_success_replaces_and_failure_keeps_the_old_file(tmp_path):
    out = tmp_path / 'sub' / 'ann.txt'
    with atomic_path(str(out)) as tmp:
        assert not out.exists()
        with open(tmp, 'w') as f:
            f.write('new\n')
    assert out.read_text() == 'new\n'
    with pytest.raises(RuntimeError, match='disk full'):
        with atomic_path(str(out)) as tmp:
            with open(tmp, 'w') as f:
                f.write('half')
            raise RuntimeError('disk full')
    assert out.read_text() == 'new\n'
    assert [p.name for p in out.parent.iterdir()] == ['ann.txt']


def test_the_file_gets_the_usual_permissions(tmp_path):
    out = tmp_path / 'ckpt.pth'
    mask = os.umask(0o027)
    try:
        with atomic_path(str(out)) as tmp:
            assert os.path.basename(tmp).startswith(TMP_PREFIX)
            with open(tmp, 'w') as f:
                f.write('x')
    finally:
        os.umask(mask)
    # what open() makes under that mask, not mkstemp's 0600
    assert out.stat().st_mode & 0o777 == 0o640
