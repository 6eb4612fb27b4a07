"""tools/dist_train.sh with 2 CPU processes (the session's digits run), and
CLI errors."""
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest
import torch

from forkrun import run_python
from hexa_mm.testing import free_port

# subprocess trainings through tools/
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
# a few iterations: 32 train images, batch 8 per process
TINY = [
    'train_dataloader.batch_size=8', 'train_dataloader.dataset.indices=32',
    'val_dataloader.dataset.bank.indices=40',
    'val_dataloader.dataset.query.indices=20', 'model.queue_len=64',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=3'
]


class Foreign:
    """A class no allow-list knows."""


def env() -> dict:
    return dict(os.environ, PYTHON=sys.executable, OMP_NUM_THREADS='1',
                PORT=str(free_port()), CUDA_VISIBLE_DEVICES='',
                PYTHONPATH=str(ROOT))


def train(*args: str, work: Path, epochs: int = 2,
          options=()) -> subprocess.CompletedProcess:
    """tools/train.py on the digits, forked from the preloaded server."""
    opts = TINY + [f'train_cfg.max_epochs={epochs}', *options]
    return run_python([
        ROOT / 'tools/train.py', DIGITS, '--work-dir', work, *args,
        '--cfg-options', *opts
    ],
                      env=env(),
                      cwd=ROOT,
                      timeout=600)


def test_dist_train_two_cpu_processes(digits_run: Path, tmp_path: Path,
                                      tiny_eval_options: List[str]) -> None:
    # tools/dist_train.sh, 2 processes, 2 epochs (tests/conftest.py)
    log = (digits_run / 'output.log').read_text()
    assert log.count('distributed training uses the gloo backend') == 1
    assert 'Distributed launcher: pytorch' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    # 32 images / (2 processes x 8) = 2 iterations per epoch, kNN each epoch
    assert 'Epoch(train) [2][2/2]' in log
    assert log.count('knn/top1:') == 2
    ckpt = torch.load(digits_run / 'epoch_2.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    # the queue holds the 4 steps x 16 keys of both processes, unit norm
    queue = ckpt['state_dict']['queue']
    assert int(ckpt['state_dict']['queue_ptr']) == 0
    assert torch.allclose(queue.norm(dim=0), torch.ones(64), atol=1e-5)
    # the offline kNN tool gives the online monitor's last figure
    online = float(log.rsplit('knn/top1:', 1)[1].split()[0])
    proc = run_python(
        [ROOT / 'tools/benchmarks/classification/knn.py', DIGITS,
         digits_run / 'epoch_2.pth', '--work-dir', tmp_path,
         '--cfg-options', *tiny_eval_options],
        cwd=ROOT, env=env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    offline = float(proc.stdout.strip().splitlines()[-1].split()[-1])
    assert abs(offline - online) < 0.01


def test_bad_queue_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    proc = train(work=tmp_path, options=['model.queue_len=60'])
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith('error: ') and 'queue_len=60' in err
    assert 'multiple of the global batch size 8' in err
    assert not list(tmp_path.glob('*.pth'))


def test_refused_checkpoint_is_one_line(tmp_path: Path) -> None:
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Foreign()}, evil)
    proc = train('--resume', str(evil), work=tmp_path / 'w', epochs=1)
    assert proc.returncode == 2
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith('error: Refused to load checkpoint')
    assert str(evil) in err
