"""mmpretrain benchmarks: linear probe and semi-supervised fine-tuning from a
hexa_mm backbone (configs/benchmarks/classification)."""
import re
import runpy
import sys
from collections import Counter
from pathlib import Path
from typing import Dict, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.registry import DATASETS, MODELS
from mmpretrain.structures import DataSample
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.engine.pretrained import check_init_checkpoints, set_pretrained
from hexa_mm.registry import MODELS as HEXA_MODELS
from hexa_mm.utils.errors import CheckpointError, ConfigError

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs/benchmarks/classification'
LINEAR = CONFIGS / 'imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py'
SEMI_1 = CONFIGS / ('imagenet/imagenet_1percent/'
                    'resnet50_head100_4xb64-steplr1e-2-20e_in1k-1pct.py')
SEMI_10 = CONFIGS / ('imagenet/imagenet_10percent/'
                     'resnet50_head100_4xb64-steplr1e-2-20e_in1k-10pct.py')
DIGITS_LINEAR = CONFIGS / 'digits/resnet18_linear-2xb64-steplr-10e_digits.py'
DIGITS_SEMI = CONFIGS / (
    'digits/resnet18_head1_2xb32-steplr1e-2-20e_digits-10pct.py')
MOCOV2 = ROOT / 'configs/mocov2'
PRETRAINING = {
    'resnet50': MOCOV2 / 'mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    'resnet18': MOCOV2 / 'mocov2_resnet18_2xb64-coslr-30e_digits.py',
}
EXTRACT = ROOT / 'tools/model_converters/extract_backbone_weights.py'
LAUNCHER = ROOT / 'tools/benchmarks/train_downstream.py'

register_all_modules(init_default_scope=False)


def in_mmpretrain(build, cfg: dict):
    """Build a config with one of mmpretrain's registries, in its scope."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return build.build(cfg)


def extract(ckpt: Path, out: Path) -> None:
    """Run the extraction CLI in-process."""
    argv = sys.argv
    sys.argv = [str(EXTRACT), str(ckpt), str(out)]
    try:
        with pytest.raises(SystemExit) as exit_info:
            runpy.run_path(str(EXTRACT), run_name='__main__')
    finally:
        sys.argv = argv
    assert exit_info.value.code == 0


@pytest.fixture(scope='module')
def backbones(tmp_path_factory) -> Dict[str, Tuple[Path, dict]]:
    """Backbones of hexa_mm MoCo-v2 (ResNet-50 and the digits ResNet-18),
    extracted from training checkpoints; every float tensor, batch-norm
    statistics included, is moved a little off its initial value so that
    loading it is visible (zero-mean noise on the weights, positive on the
    variances: the features keep a sane scale)."""
    folder = tmp_path_factory.mktemp('pretrained')
    files = {}
    torch.manual_seed(0)
    for arch, config in PRETRAINING.items():
        model_cfg = Config.fromfile(config).model
        model_cfg.queue_len = 64
        with DefaultScope.overwrite_default_scope('hexa_mm'):
            moco = HEXA_MODELS.build(model_cfg)
        with torch.no_grad():
            for key, value in moco.state_dict().items():
                if not value.is_floating_point():
                    continue
                positive = key.endswith('running_var')
                noise = torch.rand_like(value) if positive else \
                    torch.randn_like(value)
                value.add_(1e-3 * noise)
        ckpt = folder / f'{arch}_epoch_1.pth'
        torch.save(
            dict(meta=dict(epoch=1), state_dict=moco.state_dict()), ckpt)
        extract(ckpt, folder / f'{arch}.pth')
        files[arch] = (folder / f'{arch}.pth', moco.backbone.state_dict())
    return files


@pytest.mark.parametrize(
    'config,arch', [(LINEAR, 'resnet50'), (SEMI_1, 'resnet50'),
                    (SEMI_10, 'resnet50'), (DIGITS_LINEAR, 'resnet18'),
                    (DIGITS_SEMI, 'resnet18')],
    ids=lambda p: getattr(p, 'stem', p))
def test_loads_the_extracted_backbone(config: Path, arch: str,
                                      backbones) -> None:
    path, expected = backbones[arch]
    cfg = Config.fromfile(config)
    assert cfg.default_scope == 'mmpretrain'
    # a placeholder: never silently trained from scratch
    assert cfg.model.backbone.init_cfg == dict(
        type='Pretrained', checkpoint='')
    assert set_pretrained(cfg, str(path)) == ['model.backbone']
    model = in_mmpretrain(MODELS, cfg.model)
    model.init_weights()
    state = model.backbone.state_dict()
    assert state.keys() == expected.keys()  # no missing key, no extra one
    for key, value in expected.items():
        assert torch.equal(state[key], value), key


def test_placeholder_fails_loudly() -> None:
    cfg = Config.fromfile(LINEAR)
    with pytest.raises(CheckpointError, match='init_cfg.checkpoint'):
        in_mmpretrain(MODELS, cfg.model.backbone).init_weights()
    # before anything is built, the key is named in full
    with pytest.raises(ConfigError,
                       match='^model.backbone.init_cfg.checkpoint '):
        check_init_checkpoints(cfg)


def test_linear_protocol() -> None:
    cfg = Config.fromfile(LINEAR)
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.depth) == ('ResNet', 50)
    assert backbone.frozen_stages == 4 and backbone.norm_eval
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    head = cfg.model.head
    assert (head.type, head.in_channels, head.num_classes) == \
        ('LinearClsHead', 2048, 1000)
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=30., momentum=0.9, weight_decay=0.)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    [step] = cfg.param_scheduler
    assert (step.type, step.milestones, step.gamma, step.by_epoch) == \
        ('MultiStepLR', [60, 80], 0.1, True)
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size * 8 == 256
    train = [(t.type, t.get('scale')) for t in cfg.train_pipeline]
    assert train == [('LoadImageFromFile', None), ('RandomResizedCrop', 224),
                     ('RandomFlip', None), ('PackInputs', None)]
    test = [(t.type, t.get('scale', t.get('crop_size')))
            for t in cfg.test_pipeline]
    assert test == [('LoadImageFromFile', None), ('ResizeEdge', 256),
                    ('CenterCrop', 224), ('PackInputs', None)]
    assert cfg.train_dataloader.dataset.type == 'ImageNet'
    assert cfg.val_dataloader.dataset.split == 'val'
    assert (cfg.val_evaluator.type, cfg.val_evaluator.topk) == \
        ('Accuracy', (1, 5))


@pytest.mark.parametrize(
    'config,ann_file,weight_decay',
    [(SEMI_1, 'meta/train_1percent.txt', 5e-4),
     (SEMI_10, 'meta/train_10percent.txt', 1e-4)],
    ids=['1pct', '10pct'])
def test_semi_supervised_protocol(config: Path, ann_file: str,
                                  weight_decay: float) -> None:
    cfg = Config.fromfile(config)
    dataset = cfg.train_dataloader.dataset
    assert (dataset.type, dataset.data_root, dataset.data_prefix,
            dataset.ann_file) == ('ImageNet', 'data/imagenet', 'train',
                                  ann_file)
    assert cfg.train_dataloader.batch_size * 4 == 256
    assert cfg.val_dataloader.dataset.get('ann_file') is None  # full val
    backbone = cfg.model.backbone
    assert backbone.get('frozen_stages', -1) == -1
    assert not backbone.get('norm_eval', False)
    assert backbone.norm_cfg == dict(type='SyncBN')
    assert cfg.optim_wrapper.optimizer == dict(
        type='SGD', lr=0.01, momentum=0.9, weight_decay=weight_decay)
    [step] = cfg.param_scheduler
    assert (step.type, step.milestones, step.gamma) == \
        ('MultiStepLR', [12, 16], 0.2)
    assert cfg.train_cfg.max_epochs == 20

    # the whole network learns; the head at 100x the backbone's lr
    cfg.model.backbone.norm_cfg = dict(type='BN')
    model = in_mmpretrain(MODELS, cfg.model)
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    lr_of = {
        id(param): group['lr']
        for group in optim.param_groups
        for param in group['params']
    }
    for name, param in model.named_parameters():
        assert param.requires_grad, name
        want = 1.0 if name.startswith('head.') else 0.01
        assert lr_of[id(param)] == pytest.approx(want), name


def batch(size: int, classes: int) -> dict:
    """Random uint8 images with labels, as a dataloader yields them."""
    return dict(
        inputs=torch.randint(0, 256, (2, 3, size, size), dtype=torch.uint8),
        data_samples=[
            DataSample().set_gt_label(i % classes) for i in range(2)
        ])


def test_linear_trains_only_the_head(backbones) -> None:
    cfg = Config.fromfile(LINEAR)
    set_pretrained(cfg, str(backbones['resnet50'][0]))
    # normalised inputs, as the runner gives the model
    cfg.model.data_preprocessor = cfg.data_preprocessor
    model = in_mmpretrain(MODELS, cfg.model)
    model.init_weights()
    model.train()
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ['head.fc.weight', 'head.fc.bias']
    norms = [
        m for m in model.backbone.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
    ]
    assert norms and not any(m.training for m in norms)

    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = model.head.fc.weight.detach().clone()
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
    for _ in range(2):
        losses = model.train_step(batch(64, 1000), optim)
        assert torch.isfinite(losses['loss'])
    for key, value in model.backbone.state_dict().items():
        assert torch.equal(value, backbone[key]), key  # statistics too
    assert not torch.equal(model.head.fc.weight, head)


def images(dataset) -> list:
    """The raw bytes of every image of a data set."""
    return [
        dataset.get_data_info(i)['img'].tobytes() for i in range(len(dataset))
    ]


def test_digits_semi_supervised_subset() -> None:
    cfg = Config.fromfile(DIGITS_SEMI)
    dataset_cfg = cfg.train_dataloader.dataset
    assert dataset_cfg.type == 'hexa_mm.Digits'
    assert dataset_cfg.subset_fraction == 0.1
    subset = in_mmpretrain(DATASETS, dataset_cfg)
    full = in_mmpretrain(DATASETS, dict(dataset_cfg, subset_fraction=1.0))
    labels = [subset.get_data_info(i)['gt_label'] for i in range(len(subset))]
    assert (len(subset), len(full)) == (143, 1437)  # sklearn rounds down
    assert set(Counter(labels).values()) <= {14, 15}  # every class
    again = in_mmpretrain(DATASETS, dataset_cfg)
    other = in_mmpretrain(DATASETS, dict(dataset_cfg, seed=1))
    assert images(again) == images(subset)
    assert images(other) != images(subset)


@pytest.mark.integration
def test_digits_linear_through_the_launcher(backbones, train_downstream,
                                           tmp_path) -> None:
    path, expected = backbones['resnet18']
    log = train_downstream(DIGITS_LINEAR, path, tmp_path, [
        'train_dataloader.dataset.indices=128',
        'train_dataloader.batch_size=32', 'val_dataloader.dataset.indices=64',
        'train_cfg.max_epochs=1', 'default_hooks.checkpoint.interval=1',
        'default_hooks.logger.interval=1'
    ])
    assert f'load {len(expected)} tensors from {path}' in log
    assert 'Epoch(train) [1][4/4]' in log
    assert len(re.findall(r'accuracy/top1: [\d.]+', log)) == 1
    # the lr suits these features: the loss stays near ln(10) = 2.3 instead
    # of jumping to hundreds after the first steps (ImageNet's lr 30)
    losses = [float(x) for x in re.findall(r' loss: ([\d.e+]+)', log)]
    assert len(losses) == 4 and max(losses) < 3, losses
    # after training, the backbone is still exactly the pre-trained one
    state = torch.load(tmp_path / 'epoch_1.pth', weights_only=True)
    for key, value in expected.items():
        assert torch.equal(state['state_dict'][f'backbone.{key}'], value), key
