"""mmseg benchmarks: FCN R50-D8 on VOC12aug and Cityscapes from a hexa_mm
backbone (configs/benchmarks/mmsegmentation)."""
import os
import re
from pathlib import Path
from typing import Callable

import pytest
import torch
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import DefaultScope
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.engine.pretrained import check_init_checkpoints, set_pretrained
from hexa_mm.utils.errors import CheckpointError, ConfigError

# skipped, not a collection error, where full mmcv (compiled ops) or
# mmsegmentation is missing (mmcv-lite): `make install-full` installs them
NEEDS = 'the mmseg benchmarks need full mmcv and mmsegmentation'
pytest.importorskip('mmcv.ops', reason=NEEDS)
SEG_MODELS = pytest.importorskip('mmseg.registry', reason=NEEDS).MODELS
register_mmseg = pytest.importorskip(
    'mmseg.utils', reason=NEEDS).register_all_modules

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs/benchmarks/mmsegmentation'
VOC = CONFIGS / 'voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'
CITYSCAPES = CONFIGS / 'cityscapes/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py'
TINY_VOC = CONFIGS / 'tiny/fcn_r50-d8_1xb2-4iter_voc12aug-tiny-64x64.py'
TINY_CITYSCAPES = (CONFIGS /
                   'tiny/fcn_r50-d8_1xb2-4iter_cityscapes-tiny-64x64.py')

# mmseg's protocol (configs/fcn of mmsegmentation 1.2.2, as mmselfsup 1.x
# benchmarks it): iterations, validation interval, crop, images per GPU,
# classes
PROTOCOL = {
    VOC: (20000, 2000, (512, 512), 4, 21),
    CITYSCAPES: (40000, 4000, (769, 769), 2, 19),
}
# the tiny configs' data: the generated set, the folder in it, the dataset
# configs whose data_root the test sets
TINY_DATA = {
    TINY_CITYSCAPES: ('cityscapes', '', [
        'train_dataloader.dataset', 'val_dataloader.dataset',
        'test_dataloader.dataset'
    ]),
}

register_all_modules(init_default_scope=False)
register_mmseg(init_default_scope=False)


def build_seg(cfg: dict) -> nn.Module:
    """Build a model (or backbone) config in mmseg's scope."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        return SEG_MODELS.build(cfg)


def leaf_datasets(loader: dict) -> list:
    """The dataset configs of a dataloader, through a ConcatDataset."""
    return loader.dataset.get('datasets', [loader.dataset])


@pytest.mark.parametrize('config', [VOC, CITYSCAPES], ids=lambda p: p.stem)
def test_backbone_loads_the_hexa_mm_backbone(
        config: Path, mocov2_r50_backbone_file: Path) -> None:
    # the config alone: filling its placeholder (as mmselfsup's scripts do
    # with --cfg-options) is all it takes, and is what set_pretrained does
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(
        {'model.backbone.init_cfg.checkpoint': str(mocov2_r50_backbone_file)})
    launched = Config.fromfile(config)
    assert set_pretrained(launched,
                          str(mocov2_r50_backbone_file)) == ['model.backbone']
    assert launched.model == cfg.model

    model = build_seg(cfg.model)
    model.init_weights()
    weights = torch.load(mocov2_r50_backbone_file, weights_only=True)
    state = model.backbone.state_dict()
    # every key of the backbone, weights and batch-norm buffers alike
    assert state.keys() == weights.keys()
    for key, value in weights.items():
        assert torch.equal(state[key], value), key


@pytest.mark.parametrize('config', [VOC, CITYSCAPES], ids=lambda p: p.stem)
def test_empty_checkpoint_never_trains_from_scratch(config: Path) -> None:
    cfg = Config.fromfile(config)
    backbone = cfg.model.backbone
    assert backbone.init_cfg == dict(type='Pretrained', checkpoint='')
    with pytest.raises(CheckpointError, match='init_cfg.checkpoint'):
        build_seg(backbone).init_weights()
    with pytest.raises(ConfigError,
                       match='^model.backbone.init_cfg.checkpoint '):
        check_init_checkpoints(cfg)


@pytest.mark.parametrize('config', [VOC, CITYSCAPES], ids=lambda p: p.stem)
def test_protocol(config: Path) -> None:
    cfg = Config.fromfile(config)
    iters, val_interval, crop_size, batch, classes = PROTOCOL[config]
    assert cfg.default_scope == 'mmseg'
    assert cfg.train_cfg.type == 'IterBasedTrainLoop'
    assert cfg.train_cfg.max_iters == iters
    assert cfg.train_cfg.val_interval == val_interval
    [poly] = cfg.param_scheduler
    assert (poly.type, poly.end, poly.power) == ('PolyLR', iters, 0.9)
    assert cfg.optim_wrapper.optimizer == dict(type='SGD',
                                               lr=0.01,
                                               momentum=0.9,
                                               weight_decay=0.0005)
    assert cfg.train_dataloader.batch_size == batch
    assert cfg.model.data_preprocessor.size == crop_size
    for dataset in leaf_datasets(cfg.train_dataloader):
        [crop] = [t for t in dataset.pipeline if t.type == 'RandomCrop']
        assert crop.crop_size == crop_size
    assert (cfg.val_evaluator.type,
            cfg.val_evaluator.iou_metrics) == ('IoUMetric', ['mIoU'])

    model = cfg.model
    assert model.type == 'EncoderDecoder' and model.pretrained is None
    backbone = model.backbone
    assert (backbone.type, backbone.depth) == ('ResNet', 50)
    assert backbone.dilations == (1, 1, 2, 4)
    assert backbone.strides == (1, 2, 1, 1)
    for part in (backbone, model.decode_head, model.auxiliary_head):
        assert part.norm_cfg.type == 'SyncBN'
    assert model.decode_head.num_classes == classes
    assert model.auxiliary_head.num_classes == classes

    # D8: the last three stages at 1/8 of the input, the stem as a plain
    # ResNet's (7x7 conv1, bn1), as MoCo and DeepCluster pre-train it
    net = build_seg(dict(backbone, init_cfg=None))
    net.eval()
    assert net.conv1.kernel_size == (7, 7)
    with torch.no_grad():
        feats = net(torch.zeros(1, 3, 64, 64))
    assert [tuple(f.shape[1:]) for f in feats] == [(256, 16, 16), (512, 8, 8),
                                                   (1024, 8, 8), (2048, 8, 8)]


def test_dataset_splits() -> None:
    voc = Config.fromfile(VOC)
    train = voc.train_dataloader.dataset
    assert train.type == 'ConcatDataset'
    splits = [(d.type, d.ann_file, d.data_prefix.seg_map_path)
              for d in train.datasets]
    assert splits == [('PascalVOCDataset', 'ImageSets/Segmentation/train.txt',
                       'SegmentationClass'),
                      ('PascalVOCDataset', 'ImageSets/Segmentation/aug.txt',
                       'SegmentationClassAug')]
    assert voc.val_dataloader.dataset.ann_file == \
        'ImageSets/Segmentation/val.txt'
    assert voc.model.test_cfg == dict(mode='whole')

    cityscapes = Config.fromfile(CITYSCAPES)
    assert cityscapes.train_dataloader.dataset.type == 'CityscapesDataset'
    assert cityscapes.train_dataloader.dataset.data_prefix == dict(
        img_path='leftImg8bit/train', seg_map_path='gtFine/train')
    assert cityscapes.val_dataloader.dataset.data_prefix == dict(
        img_path='leftImg8bit/val', seg_map_path='gtFine/val')
    assert cityscapes.model.test_cfg == dict(mode='slide',
                                             crop_size=(769, 769),
                                             stride=(513, 513))


def test_mmseg_base_config_cannot_load_a_hexa_mm_backbone(
        mocov2_r50_backbone_file: Path) -> None:
    """Why the configs replace mmseg's backbone setup."""
    cfg = get_config('mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')
    assert cfg.model.pretrained == 'open-mmlab://resnet50_v1c'
    # 1. a backbone init_cfg (what a benchmark script sets) clashes with the
    # model-level `pretrained` that EncoderDecoder copies into the backbone
    cfg.model.backbone.init_cfg = dict(
        type='Pretrained', checkpoint=str(mocov2_r50_backbone_file))
    with pytest.raises(AssertionError, match='init_cfg and pretrained'):
        build_seg(cfg.model)
    # 2. through `pretrained` instead, ResNetV1c's deep stem has none of the
    # backbone's stem weights: it would stay random (mmengine loads with
    # strict=False and only logs the missing keys)
    backbone = build_seg(
        dict(cfg.model.backbone,
             init_cfg=None,
             pretrained=str(mocov2_r50_backbone_file)))
    backbone.init_weights()
    keys = set(backbone.state_dict())
    weights = set(torch.load(mocov2_r50_backbone_file, weights_only=True))
    missing = keys - weights
    assert missing and all(key.startswith('stem.') for key in missing)
    assert {'conv1.weight', 'bn1.weight'} <= weights - keys


@pytest.mark.parametrize('tiny, real', [(TINY_VOC, VOC),
                                        (TINY_CITYSCAPES, CITYSCAPES)],
                         ids=lambda p: p.stem)
def test_tiny_variant_keeps_the_benchmark(tiny: Path, real: Path) -> None:
    cfg, ref = Config.fromfile(tiny), Config.fromfile(real)
    for part in ('backbone', 'decode_head', 'auxiliary_head'):
        assert cfg.model[part] == ref.model[part], part
    assert cfg.val_evaluator == ref.val_evaluator
    for loader in ('train_dataloader', 'val_dataloader'):
        assert [d.type for d in leaf_datasets(cfg[loader])] == \
            [d.type for d in leaf_datasets(ref[loader])]
    assert cfg.train_cfg.max_iters == cfg.train_cfg.val_interval == 4
    assert cfg.train_dataloader.batch_size == 2


# VOC12aug trains in test_end_to_end.py (through dist_train.sh, from a
# pre-training checkpoint); a tiny run is a ResNet-50 run, trained once
@pytest.mark.integration
@pytest.mark.parametrize('tiny', list(TINY_DATA), ids=lambda p: p.stem)
def test_tiny_variant_trains_and_evaluates(tiny: Path,
                                           mocov2_r50_backbone_file: Path,
                                           tiny_downstream_data: dict,
                                           train_downstream: Callable,
                                           tmp_path: Path) -> None:
    name, folder, datasets = TINY_DATA[tiny]
    root = os.path.join(tiny_downstream_data[name], folder)
    options = [f'{dataset}.data_root={root}' for dataset in datasets]
    log = train_downstream(tiny, mocov2_r50_backbone_file, tmp_path, options)
    # mmengine's Pretrained initialiser loaded the backbone file
    assert f'load model from: {mocov2_r50_backbone_file}' in log
    assert 'Iter(train) [4/4]' in log
    miou = re.search(r'Iter\(val\) \[\d+/\d+\].*mIoU: ([\d.]+)', log)
    # (mIoU scores a perfect prediction 100 and a wrong one less:
    # test_tiny_downstream_data.py)
    assert miou is not None, log[-3000:]
