"""tools/dist_train.sh with 2 CPU processes, resume, and CLI errors."""
import os
import subprocess
import sys
from pathlib import Path

import torch

from hexa_mm.testing import free_port

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
                PORT=str(free_port()), CUDA_VISIBLE_DEVICES='')


def train(*args: str, work: Path, epochs: int = 2, dist: bool = False,
          options=(), config: Path = DIGITS) -> subprocess.CompletedProcess:
    opts = TINY + [f'train_cfg.max_epochs={epochs}', *options]
    if dist:
        cmd = ['bash', str(ROOT / 'tools/dist_train.sh'), str(config), '2']
    else:
        cmd = [sys.executable, str(ROOT / 'tools/train.py'), str(config)]
    return subprocess.run(
        cmd + ['--work-dir', str(work), *args, '--cfg-options', *opts],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=600)


def test_dist_train_two_cpu_processes(tmp_path: Path) -> None:
    proc = train(work=tmp_path, dist=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert log.count('distributed training uses the gloo backend') == 1
    assert 'Distributed launcher: pytorch' in log
    assert 'GPU number: 2' in log  # mmengine's name for the world size
    # 32 images / (2 processes x 8) = 2 iterations per epoch, kNN each epoch
    assert 'Epoch(train) [2][2/2]' in log
    assert log.count('knn/top1:') == 2
    ckpt = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 4
    # the queue holds the 4 steps x 16 keys of both processes, unit norm
    queue = ckpt['state_dict']['queue']
    assert int(ckpt['state_dict']['queue_ptr']) == 0
    assert torch.allclose(queue.norm(dim=0), torch.ones(64), atol=1e-5)
    # the offline kNN tool gives the online monitor's last figure
    online = float(log.rsplit('knn/top1:', 1)[1].split()[0])
    proc = subprocess.run(
        [sys.executable,
         str(ROOT / 'tools/benchmarks/classification/knn.py'), str(DIGITS),
         str(tmp_path / 'epoch_2.pth'), '--work-dir', str(tmp_path / 'knn'),
         '--cfg-options', *TINY[2:4]],
        cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    offline = float(proc.stdout.strip().splitlines()[-1].split()[-1])
    assert abs(offline - online) < 0.01


def test_resume_continues_from_the_checkpoint(tmp_path: Path) -> None:
    # deterministic views, so the only randomness is the batch shuffle of
    # the keys, whose order changes batch-norm sums by rounding only
    config = tmp_path / 'same_views.py'
    config.write_text(
        f"_base_ = '{DIGITS}'\n"
        "train_dataloader = dict(dataset=dict(pipeline=[\n"
        "    dict(type='MultiView', num_views=2, transforms=[[]]),\n"
        "    dict(type='PackInputs')]))\n")
    full, part = tmp_path / 'full', tmp_path / 'part'
    assert train(work=full, config=config).returncode == 0
    proc = train(work=part, epochs=1, config=config)
    assert proc.returncode == 0
    first = torch.load(part / 'epoch_1.pth', weights_only=True)
    proc = train('--resume', str(part / 'epoch_1.pth'), work=part,
                 config=config)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'resumed epoch: 1, iter: 4' in log
    assert 'Epoch(train) [1]' not in log.split('resumed epoch')[1]
    resumed = torch.load(part / 'epoch_2.pth', weights_only=True)
    expected = torch.load(full / 'epoch_2.pth', weights_only=True)
    assert resumed['meta']['iter'] == expected['meta']['iter'] == 8
    assert int(resumed['state_dict']['queue_ptr']) == 0
    # the resumed run started from epoch 1's queue, not a fresh one
    assert not torch.allclose(first['state_dict']['queue'],
                              resumed['state_dict']['queue'])
    # weights: the resumed run lands where the uninterrupted one does, up to
    # float rounding, far closer than epoch 2's own change of the weights
    flat = lambda c: torch.cat([  # noqa: E731
        v.flatten() for k, v in c['state_dict'].items()
        if v.is_floating_point() and 'queue' not in k])
    rounding = (flat(resumed) - flat(expected)).abs().max()
    epoch_2_change = (flat(first) - flat(expected)).abs().max()
    assert rounding < 0.01 * epoch_2_change, (rounding, epoch_2_change)
    lr = resumed['param_schedulers'][0]['last_step']
    assert lr == expected['param_schedulers'][0]['last_step'] == 2


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
