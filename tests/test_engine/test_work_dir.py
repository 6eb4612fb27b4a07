"""Tests of hexa_mm.engine.work_dir: the check, the lock and the checkpoint
to resume."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    lock_work_dir(str(tmp_path))
    lock_work_dir(str(tmp_path))  # this process holds it: nothing to do
    other = [
        sys.executable, '-c',
        'import sys\nfrom hexa_mm.engine.work_dir import lock_work_dir\n'
        'lock_work_dir(sys.argv[1])\nprint("locked", flush=True)\n'
        'sys.stdin.read()\n',
        str(tmp_path)
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    refused = subprocess.run(
        other, env=env, capture_output=True, text=True, input='')
    assert refused.returncode != 0
    assert f'work dir {tmp_path} is in use by another run (pid ' \
        f'{os.getpid()} on ' in refused.stderr
    unlock_work_dir(str(tmp_path))
    holder = subprocess.Popen(
        other,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True)
    assert holder.stdout.readline() == 'locked\n'
    with pytest.raises(ConfigError, match=f'pid {holder.pid} on'):
        lock_work_dir(str(tmp_path))
    holder.kill()  # SIGKILL: no clean-up of its own
    holder.wait()
    lock_work_dir(str(tmp_path))
    unlock_work_dir(str(tmp_path))


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
