"""Fixtures shared by the test suite."""
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Union

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from forkrun import close_servers, run_python
from hexa_mm import register_all_modules
from hexa_mm.engine.pretrained import extract_backbone_state_dict
from hexa_mm.registry import MODELS
from hexa_mm.testing import free_port
from hexa_mm.testing.tiny_downstream import make_tiny_downstream_data


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers of the suite's tiers."""
    config.addinivalue_line(
        'markers', 'integration: subprocess trainings and downstream runs '
        '(deselect with -m "not integration")')


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """End the servers :func:`forkrun.run_python` started."""
    close_servers()


ROOT = Path(__file__).resolve().parents[1]
MOCO_R50 = ROOT / 'configs/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
MOCO_DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
# A few iterations of the digits configs: 32 train images, batch 8 per
# process, a 60-image kNN check, a queue of 64.
TINY = ('train_dataloader.batch_size=8', 'train_dataloader.dataset.indices=32',
        'val_dataloader.dataset.bank.indices=40',
        'val_dataloader.dataset.query.indices=20', 'model.queue_len=64',
        'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1')



@pytest.fixture(scope='session')
def tiny_options() -> List[str]:
    """``--cfg-options`` that make a digits config train in seconds.

    Returns:
        list[str]: ``key=value`` strings (batch, data, queue, logging).
    """
    return list(TINY)


@pytest.fixture
def tool_env() -> Dict[str, str]:
    """The environment the tools run in: this Python (also as ``python``
    and ``PYTHON``), this checkout, one thread a process, no GPU, a free
    ``PORT``.

    Returns:
        dict[str, str]: The environment.
    """
    return dict(
        os.environ,
        PATH=os.pathsep.join([str(Path(sys.executable).parent),
                              os.environ.get('PATH', '')]),
        PYTHON=sys.executable,
        PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        PORT=str(free_port()))


@pytest.fixture(scope='session')
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work dir of a 2-epoch MoCo-v2 digits run of 2 CPU processes
    through ``tools/dist_train.sh`` (:data:`TINY`: 2 iterations an epoch,
    the kNN monitor after each), with its output in ``output.log``.

    Returns:
        Path: The work dir; it holds ``epoch_1.pth`` and ``epoch_2.pth``
        (``last_checkpoint`` points at the latter).
    """
    work = tmp_path_factory.mktemp('digits_run')
    env = dict(
        os.environ,
        PYTHON=sys.executable,
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        PORT=str(free_port()))
    proc = subprocess.run([
        'bash',
        str(ROOT / 'tools/dist_train.sh'),
        str(MOCO_DIGITS), '2', '--work-dir',
        str(work), '--cfg-options', *TINY, 'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.max_keep_ckpts=2'
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    (work / 'output.log').write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return work


@pytest.fixture(scope='session')
def tiny_downstream_data(
        tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """The tiny VOC / COCO / Cityscapes sets, written once per session.

    Returns:
        dict[str, str]: ``'voc'`` (the ``VOCdevkit`` folder), ``'coco'`` and
        ``'cityscapes'`` roots; see
        :func:`hexa_mm.testing.tiny_downstream.make_tiny_downstream_data`.
    """
    return make_tiny_downstream_data(str(
        tmp_path_factory.mktemp('tiny_downstream')),
                                     seed=0)


@pytest.fixture(scope='session')
def mocov2_r50_backbone_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backbone of hexa_mm's MoCo-v2 ResNet-50, extracted as the tools
    extract it; its batch norms (weights and statistics) are moved off their
    initial values so that loading them is visible too.

    Returns:
        Path: A weights-only backbone ``state_dict`` file.
    """
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        moco = MODELS.build(Config.fromfile(MOCO_R50).model)
    with torch.no_grad():
        for module in moco.backbone.modules():
            if isinstance(module, _BatchNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_()
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2)
    weights = extract_backbone_state_dict(moco.state_dict())
    assert weights.keys() == moco.backbone.state_dict().keys()
    path = tmp_path_factory.mktemp('mocov2_r50') / 'backbone.pth'
    torch.save(weights, path)
    return path


@pytest.fixture(scope='session')
def train_downstream() -> Callable[..., str]:
    """Run ``tools/benchmarks/train_downstream.py`` in one process without a
    GPU (forked: :func:`forkrun.run_python`).

    Returns:
        Callable: ``run(config, backbone, work_dir, options)`` returns the
        run's log; it fails the test with the log's tail if the run fails.
    """

    def run(config: Union[str, Path], backbone: Union[str, Path],
            work_dir: Union[str, Path], options: Sequence[str]) -> str:
        proc = run_python([
            ROOT / 'tools/benchmarks/train_downstream.py', config, backbone,
            '--work-dir', work_dir, '--cfg-options', *options
        ],
                          env=dict(
                              os.environ,
                              OMP_NUM_THREADS='1',
                              CUDA_VISIBLE_DEVICES='',
                              PYTHONPATH=str(ROOT)),
                          cwd=ROOT,
                          timeout=600)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-3000:]
        return log

    return run
