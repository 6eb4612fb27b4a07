"""From pre-training to the downstream benchmarks, the way a user goes:
pre-train a MoCo-v2 ResNet-50 a few iterations, extract its backbone, then
fine-tune detection and segmentation a few iterations on the generated data
through tools/benchmarks/*/dist_train.sh, each ending with its metric."""
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch

from forkrun import python_env, run_python
from hexa_mm.testing import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRETRAIN_CFG = '''
_base_ = '{repo}/configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
# ResNet-50 as the benchmarks expect, 2 iterations of 8 images
model = dict(queue_len=16, backbone=dict(depth=50),
             neck=dict(in_channels=2048, hid_channels=2048))
train_dataloader = dict(batch_size=8, dataset=dict(indices=16))
train_cfg = dict(max_epochs=1)
default_hooks = dict(checkpoint=dict(interval=1))
'''
DET_TINY = ('configs/benchmarks/mmdetection/tiny/'
            'faster-rcnn_r50-c4_1xb2-4iter_voc0712-tiny.py')
SEG_TINY = ('configs/benchmarks/mmsegmentation/tiny/'
            'fcn_r50-d8_1xb2-4iter_voc12aug-tiny-64x64.py')


def run(args: list, cwd: Path) -> str:
    """Run a command, fail the test with its output if it fails; a Python
    tool (``sys.executable`` first) is forked from the preloaded server
    (:func:`forkrun.run_python`), and so are the workers of a shell tool
    (:func:`forkrun.python_env`).

    Args:
        args (list): The command.
        cwd (Path): Where to run it.

    Returns:
        str: stdout and stderr together.
    """
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        PYTHON=sys.executable,
        PYTHONPATH=str(REPO),
        PORT=str(free_port()))
    if args[0] == sys.executable:
        done = run_python(args[1:], env=env, cwd=cwd, stderr_to_stdout=True)
    else:
        done = subprocess.run([str(a) for a in args],
                              cwd=cwd,
                              env=python_env(env),
                              stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT,
                              text=True)
    assert done.returncode == 0, done.stdout[-4000:]
    return done.stdout


@pytest.fixture(scope='module')
def pretrained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hexa_mm MoCo-v2 ResNet-50 checkpoint after 2 training iterations."""
    work = tmp_path_factory.mktemp('pretrain')
    config = work / 'mocov2_r50_2iter_digits.py'
    config.write_text(PRETRAIN_CFG.format(repo=REPO))
    run([
        sys.executable, REPO / 'tools/train.py', config, '--work-dir',
        work / 'run', '--no-validate'
    ], cwd=REPO)
    return work / 'run' / 'epoch_1.pth'


@pytest.fixture
def data_dir(tmp_path: Path, tiny_downstream_data: Dict[str, str]) -> Path:
    """A folder whose ``data/tiny_downstream`` is the generated data, as the
    tiny configs expect relative to where they run."""
    (tmp_path / 'data').mkdir()
    (tmp_path / 'data' / 'tiny_downstream').symlink_to(
        Path(tiny_downstream_data['voc']).parent)
    return tmp_path


def test_pretrain_extract_then_detection(pretrained, data_dir):
    backbone = data_dir / 'backbone.pth'
    out = run([
        sys.executable, REPO / 'tools/model_converters/'
        'extract_backbone_weights.py', pretrained, backbone
    ], cwd=data_dir)
    weights = torch.load(backbone, weights_only=True)
    full = torch.load(pretrained, weights_only=True)['state_dict']
    assert torch.equal(weights['layer4.2.conv3.weight'],
                       full['backbone.layer4.2.conv3.weight'])
    assert str(len(weights)) in out
    log = run([
        'bash', REPO / 'tools/benchmarks/mmdetection/dist_train.sh',
        REPO / DET_TINY, backbone, 1, '--work-dir', data_dir / 'det'
    ], cwd=data_dir)
    # distributed without CUDA: HexaRunner reverted SyncBN to BN
    assert re.search(r'CUDA is not available: \d+ SyncBN layers run as BN',
                     log)
    assert ('model.backbone, model.roi_head.shared_head load 318 tensors'
            in log)
    # mmengine's initialiser loaded the file into both parts
    assert log.count(f'load model from: {backbone}') == 2
    assert re.search(r'Iter\(train\) \[4/4\]', log)
    for metric in ('mAP', 'AP50', 'AP75'):
        assert re.search(rf'pascal_voc/{metric}: \d+\.\d+', log), log[-3000:]


def test_pretrain_checkpoint_directly_to_segmentation(pretrained, data_dir):
    log = run([
        'bash', REPO / 'tools/benchmarks/mmsegmentation/dist_train.sh',
        REPO / SEG_TINY, pretrained, 1, '--work-dir', data_dir / 'seg'
    ], cwd=data_dir)
    # a training checkpoint is accepted: its backbone is extracted first
    assert 'is a training checkpoint: extracted its 318 backbone' in log
    assert (data_dir / 'seg' / 'pretrain_backbone.pth').is_file()
    assert re.search(r'Iter\(train\) \[4/4\]', log)
    assert re.search(r'mIoU: \d+\.\d+', log), log[-3000:]
