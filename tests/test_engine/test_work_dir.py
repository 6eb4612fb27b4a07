"""Tests of hexa_mm.engine.work_dir: the check, the lock and the checkpoint
to resume."""
import os
import time
from pathlib import Path

import pytest

from forkrun import run_python, start_python
from hexa_mm.engine.work_dir import (check_work_dir, find_resumable,
                                     lock_work_dir, unlock_work_dir)
from hexa_mm.utils import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_a_work_dir_that_is_a_file_or_inside_one(tmp_path: Path) -> None:
    (tmp_path / 'file').write_text('')
    with pytest.raises(ConfigError, match='is a file, not a folder'):
        check_work_dir(str(tmp_path / 'file'))
    with pytest.raises(ConfigError, match=r'cannot be made: .*file is a '):
        check_work_dir(str(tmp_path / 'file' / 'sub'))
    check_work_dir(str(tmp_path / 'new' / 'sub'))  # will be made
    assert not (tmp_path / 'new').exists()
    assert list(tmp_path.iterdir()) == [tmp_path / 'file']


@pytest.mark.integration
def test_the_lock_refuses_another_process_and_dies_with_its_holder(
        tmp_path: Path) -> None:
    work, scratch = tmp_path / 'work', tmp_path / 'scratch'
    work.mkdir()
    scratch.mkdir()
    lock_work_dir(str(work))
    lock_work_dir(str(work))  # this process holds it: nothing to do
    # another process (forked from the preloaded server): it takes the
    # lock, says so in a file, and keeps it
    other = scratch / 'other.py'
    other.write_text('import sys, time\n'
                     'from hexa_mm.engine.work_dir import lock_work_dir\n'
                     'lock_work_dir(sys.argv[1])\n'
                     'open(sys.argv[2], "w").close()\n'
                     'time.sleep(600)\n')
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    locked = scratch / 'locked'
    refused = run_python([other, work, locked], env=env)
    assert refused.returncode != 0
    assert f'work dir {work} is in use by another run (pid ' \
        f'{os.getpid()} on ' in refused.stderr
    unlock_work_dir(str(work))
    holder = start_python([other, work, locked], scratch / 'log', env=env)
    try:
        deadline = time.monotonic() + 300
        while not locked.exists():
            assert holder.poll() is None, holder.log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        with pytest.raises(ConfigError, match=f'pid {holder.pids[0]} on'):
            lock_work_dir(str(work))
    finally:
        holder.kill()  # SIGKILL: no clean-up of its own
        holder.wait()
    lock_work_dir(str(work))
    unlock_work_dir(str(work))


def test_the_checkpoint_to_resume(tmp_path: Path) -> None:
    assert find_resumable(str(tmp_path)) is None
    (tmp_path / 'pretrain_backbone.pth').write_bytes(b'')
    (tmp_path / '.tmp-x.pth').write_bytes(b'')
    assert find_resumable(str(tmp_path)) is None  # not checkpoints
    for name in ('epoch_1.pth', 'latest.pth', 'epoch_2.pth'):
        (tmp_path / name).write_bytes(b'')
        time.sleep(0.01)
    # no pointer: the newest
    assert find_resumable(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
    pointer = tmp_path / 'last_checkpoint'
    pointer.write_text(str(tmp_path / 'latest.pth'))
    assert find_resumable(str(tmp_path)) == str(tmp_path / 'latest.pth')
    # a work dir that moved: the name it points to, in the work dir
    pointer.write_text('/elsewhere/epoch_1.pth')
    assert find_resumable(str(tmp_path)) == str(tmp_path / 'epoch_1.pth')
    pointer.write_text('/elsewhere/gone.pth')
    assert find_resumable(str(tmp_path)) == str(tmp_path / 'epoch_2.pth')
