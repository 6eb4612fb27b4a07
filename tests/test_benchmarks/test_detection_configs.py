"""mmdet benchmarks: Faster R-CNN R50-C4 on VOC07+12 and Mask R-CNN R50-C4 /
R50-FPN on COCO from a hexa_mm backbone (configs/benchmarks/mmdetection)."""
import os
import re
from pathlib import Path
from typing import Callable, List

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hexa_mm import register_all_modules
from hexa_mm.engine.pretrained import check_init_checkpoints, set_pretrained
from hexa_mm.utils.errors import CheckpointError, ConfigError

# skipped, not a collection error, where full mmcv (compiled ops) or mmdet
# is missing (mmcv-lite): `make install-full` installs them
NEEDS = 'the mmdet benchmarks need full mmcv and mmdet'
pytest.importorskip('mmcv.ops', reason=NEEDS)
DET_MODELS = pytest.importorskip('mmdet.registry', reason=NEEDS).MODELS
register_mmdet = pytest.importorskip(
    'mmdet.utils', reason=NEEDS).register_all_modules

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / 'configs/benchmarks/mmdetection'
VOC = CONFIGS / 'voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py'
COCO_C4 = CONFIGS / 'coco/mask-rcnn_r50-c4_ms-1x_coco.py'
COCO_FPN = CONFIGS / 'coco/mask-rcnn_r50_fpn_ms-1x_coco.py'
TINY_VOC = CONFIGS / 'tiny/faster-rcnn_r50-c4_1xb2-4iter_voc0712-tiny.py'
TINY_COCO_C4 = CONFIGS / 'tiny/mask-rcnn_r50-c4_1xb2-1e_coco-tiny.py'
TINY_COCO_FPN = CONFIGS / 'tiny/mask-rcnn_r50_fpn_1xb2-1e_coco-tiny.py'
TINY = {TINY_VOC: VOC, TINY_COCO_C4: COCO_C4, TINY_COCO_FPN: COCO_FPN}
RGB_MEAN = [123.675, 116.28, 103.53]
RGB_STD = [58.395, 57.12, 57.375]
# the tiny configs' data: the generated set, the config paths set to its
# root (a ConcatDataset's members each have theirs), the metric printed
TINY_DATA = {
    TINY_COCO_C4: ('coco', [
        'train_dataloader.dataset.data_root',
        'val_dataloader.dataset.data_root', 'test_dataloader.dataset.data_root'
    ], ['coco/bbox_mAP', 'coco/segm_mAP']),
}
TINY_DATA[TINY_COCO_FPN] = TINY_DATA[TINY_COCO_C4]

register_all_modules(init_default_scope=False)
register_mmdet(init_default_scope=False)


def build_det(cfg: dict) -> nn.Module:
    """Build a model (or part) config in mmdet's scope."""
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DET_MODELS.build(cfg)


def pretrained_parts(config: Path) -> List[str]:
    """The parts of a detector that load the backbone file."""
    return ['backbone', 'roi_head.shared_head'
            ] if config != COCO_FPN else ['backbone']


def leaf_datasets(loader: dict) -> list:
    """The dataset configs of a dataloader, through a ConcatDataset."""
    return loader.dataset.get('datasets', [loader.dataset])


def short_sides(transform: dict) -> List[int]:
    """The short sides of a (multi-scale) resize, long side capped at 1333."""
    scales = transform.get('scales', [transform.get('scale')])
    assert all(long == 1333 for long, _ in scales)
    return [short for _, short in scales]


@pytest.mark.parametrize('config', [VOC, COCO_C4, COCO_FPN],
                         ids=lambda p: p.stem)
def test_detector_loads_the_hexa_mm_backbone(
        config: Path, mocov2_r50_backbone_file: Path) -> None:
    cfg = Config.fromfile(config)
    parts = pretrained_parts(config)
    assert set_pretrained(cfg, str(mocov2_r50_backbone_file)) == \
        [f'model.{part}' for part in parts]
    model = build_det(cfg.model)
    model.init_weights()

    weights = torch.load(mocov2_r50_backbone_file, weights_only=True)
    used = set()
    for part in parts:
        module = model.get_submodule(part)
        # fine-tuned with synchronised BN, nothing frozen, BN not in eval
        assert module.norm_eval is False
        assert all(p.requires_grad for p in module.parameters())
        norms = [m for m in module.modules() if isinstance(m, _BatchNorm)]
        assert norms and all(isinstance(m, nn.SyncBatchNorm)
                             for m in norms), part
        # every key of the part, weights and batch-norm buffers alike; the
        # C4 head's extra norm after res5 (MoCo's) is new: a fresh BN
        for key, value in module.state_dict().items():
            if part == 'roi_head.shared_head' and key.startswith('norm.'):
                continue
            assert key in weights, f'{part}: {key} missing'
            assert torch.equal(value, weights[key]), f'{part}: {key}'
            used.add(key)
    # the backbone (with the C4 res5 head) is the whole ResNet-50
    assert used == weights.keys()
    if 'roi_head.shared_head' in parts:
        extra = model.roi_head.shared_head.norm
        assert isinstance(extra,
                          nn.SyncBatchNorm) and extra.num_features == 2048
        assert torch.equal(extra.weight, torch.ones(2048))
        assert torch.equal(extra.running_mean, torch.zeros(2048))
    # pytorch style (MoCo's STRIDE_IN_1X1: False): stride in the 3x3 conv
    block = model.backbone.layer2[0]
    assert (block.conv1.stride, block.conv2.stride) == ((1, 1), (2, 2))


@pytest.mark.parametrize('config', [VOC, COCO_C4, COCO_FPN],
                         ids=lambda p: p.stem)
def test_no_caffe_init_and_no_silent_scratch_training(config: Path) -> None:
    cfg = Config.fromfile(config)
    # mmdet's C4 bases load a caffe ResNet with BGR caffe mean and std
    for leftover in ('caffe', 'open-mmlab://', 'torchvision://', 'detectron2'):
        assert leftover not in cfg.pretty_text, leftover
    preprocessor = cfg.model.data_preprocessor
    assert (preprocessor.mean, preprocessor.std,
            preprocessor.bgr_to_rgb) == (RGB_MEAN, RGB_STD, True)
    for part in pretrained_parts(config):
        part_cfg = cfg.model
        for name in part.split('.'):
            part_cfg = part_cfg[name]
        assert part_cfg.init_cfg == dict(type='Pretrained', checkpoint='')
        assert part_cfg.style == 'pytorch'
        assert part_cfg.norm_cfg == dict(type='SyncBN', requires_grad=True)
    # the empty placeholder fails to load: never a run from scratch
    with pytest.raises(CheckpointError, match='init_cfg.checkpoint'):
        build_det(cfg.model.backbone).init_weights()
    with pytest.raises(ConfigError,
                       match='^model.backbone.init_cfg.checkpoint '):
        check_init_checkpoints(cfg)


def test_voc0712_protocol() -> None:
    cfg = Config.fromfile(VOC)
    assert cfg.default_scope == 'mmdet'
    assert cfg.model.type == 'FasterRCNN'
    assert cfg.model.roi_head.bbox_head.num_classes == 20
    # 24k iterations of 8 GPUs x 2 images, lr 0.02, 100 warm-up iterations,
    # x0.1 at 18k and 22k (MoCo's pascal_voc_R_50_C4_24k.yaml)
    assert (cfg.train_cfg.type, cfg.train_cfg.max_iters) == \
        ('IterBasedTrainLoop', 24000)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.optimizer == dict(type='SGD',
                                               lr=0.02,
                                               momentum=0.9,
                                               weight_decay=0.0001)
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end) == \
        ('LinearLR', 0.001, 100)
    assert (steps.type, steps.milestones, steps.end, steps.gamma) == \
        ('MultiStepLR', [18000, 22000], 24000, 0.1)
    # VOC07 trainval + VOC12 trainval -> VOC07 test
    train = cfg.train_dataloader.dataset
    assert (train.type, train.ignore_keys) == ('ConcatDataset',
                                               ['dataset_type'])
    assert [
        (d.type, d.ann_file, d.data_prefix.sub_data_root)
        for d in train.datasets
    ] == [('VOCDataset', 'VOC2007/ImageSets/Main/trainval.txt', 'VOC2007/'),
          ('VOCDataset', 'VOC2012/ImageSets/Main/trainval.txt', 'VOC2012/')]
    val = cfg.val_dataloader.dataset
    assert (val.type, val.ann_file, val.data_prefix.sub_data_root,
            val.test_mode) == ('VOCDataset', 'VOC2007/ImageSets/Main/test.txt',
                               'VOC2007/', True)
    # train short side 480-800 step 32, test 800
    for dataset in train.datasets:
        [resize] = [t for t in dataset.pipeline if 'Resize' in t.type]
        assert short_sides(resize) == list(range(480, 801, 32))
    [resize] = [t for t in val.pipeline if 'Resize' in t.type]
    assert short_sides(resize) == [800]
    # AP (IoU 0.50:0.95), AP50, AP75 on VOC07's 11-point interpolation
    metric = cfg.val_evaluator
    assert (metric.type, metric.metric, metric.eval_mode) == \
        ('VOCMetric', 'mAP', '11points')
    assert metric.iou_thrs == pytest.approx(
        [0.5 + 0.05 * i for i in range(10)])


@pytest.mark.parametrize('config', [COCO_C4, COCO_FPN], ids=lambda p: p.stem)
def test_coco_protocol(config: Path) -> None:
    cfg = Config.fromfile(config)
    assert cfg.default_scope == 'mmdet'
    assert cfg.model.type == 'MaskRCNN'
    assert cfg.model.roi_head.bbox_head.num_classes == 80
    assert cfg.model.roi_head.mask_head.num_classes == 80
    # 1x: 12 epochs of 8 GPUs x 2 images, lr 0.02, x0.1 at epochs 8 and 11
    assert (cfg.train_cfg.type, cfg.train_cfg.max_epochs) == \
        ('EpochBasedTrainLoop', 12)
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.optim_wrapper.optimizer == dict(type='SGD',
                                               lr=0.02,
                                               momentum=0.9,
                                               weight_decay=0.0001)
    steps = cfg.param_scheduler[-1]
    assert (steps.type, steps.milestones, steps.by_epoch) == \
        ('MultiStepLR', [8, 11], True)
    # train2017 -> val2017, multi-scale train 640-800 step 32, test 800
    train, val = cfg.train_dataloader.dataset, cfg.val_dataloader.dataset
    assert (train.type, train.ann_file, train.data_prefix.img) == \
        ('CocoDataset', 'annotations/instances_train2017.json', 'train2017/')
    assert (val.type, val.ann_file, val.data_prefix.img) == \
        ('CocoDataset', 'annotations/instances_val2017.json', 'val2017/')
    [load] = [t for t in train.pipeline if t.type == 'LoadAnnotations']
    assert load.with_bbox and load.with_mask
    [resize] = [t for t in train.pipeline if 'Resize' in t.type]
    assert short_sides(resize) == list(range(640, 801, 32))
    [resize] = [t for t in val.pipeline if 'Resize' in t.type]
    assert short_sides(resize) == [800]
    metric = cfg.val_evaluator
    assert (metric.type, metric.metric) == ('CocoMetric', ['bbox', 'segm'])
    assert metric.ann_file.endswith('annotations/instances_val2017.json')
    if config == COCO_FPN:
        # SyncBN in the new layers too: FPN, 4conv1fc box head, mask head
        head = cfg.model.roi_head
        assert head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
        for part in (cfg.model.neck, head.bbox_head, head.mask_head):
            assert part.norm_cfg.type == 'SyncBN'


@pytest.mark.parametrize('tiny', list(TINY), ids=lambda p: p.stem)
def test_tiny_variant_keeps_the_benchmark(tiny: Path) -> None:
    cfg, ref = Config.fromfile(tiny), Config.fromfile(TINY[tiny])
    # the same detector; only how many proposals, RoIs and boxes it keeps
    model, ref_model = cfg.model.copy(), ref.model.copy()
    for budget in ('train_cfg', 'test_cfg'):
        model.pop(budget)
        ref_model.pop(budget)
    assert model == ref_model
    # the same dataset classes, splits and metric
    for loader in ('train_dataloader', 'val_dataloader'):
        assert [(d.type, d.ann_file, d.data_prefix)
                for d in leaf_datasets(cfg[loader])] == \
            [(d.type, d.ann_file, d.data_prefix)
             for d in leaf_datasets(ref[loader])]
    assert cfg.val_evaluator.type == ref.val_evaluator.type
    assert cfg.val_evaluator.get('metric') == ref.val_evaluator.get('metric')
    assert cfg.val_evaluator.get('iou_thrs') == \
        ref.val_evaluator.get('iou_thrs')
    assert cfg.train_cfg.type == ref.train_cfg.type
    assert cfg.train_dataloader.batch_size == 2
    assert cfg.train_dataloader.num_workers == 0


# VOC07+12 trains in test_end_to_end.py (through dist_train.sh, from a
# pre-training checkpoint); a tiny run is a ResNet-50 run, trained once
@pytest.mark.integration
@pytest.mark.parametrize('tiny', list(TINY_DATA), ids=lambda p: p.stem)
def test_tiny_variant_trains_and_evaluates(tiny: Path,
                                           mocov2_r50_backbone_file: Path,
                                           tiny_downstream_data: dict,
                                           train_downstream: Callable,
                                           tmp_path: Path) -> None:
    name, roots, metrics = TINY_DATA[tiny]
    root = tiny_downstream_data[name]
    options = [f'{key}={root}' for key in roots]
    if name == 'coco':
        ann_file = os.path.join(root, 'annotations/instances_val2017.json')
        options += [
            f'{metric}.ann_file={ann_file}'
            for metric in ('val_evaluator', 'test_evaluator')
        ]
    log = train_downstream(tiny, mocov2_r50_backbone_file, tmp_path, options)
    # the backbone and (C4) res5 head loaded the file; one process: mmengine
    # reverted SyncBN to BN
    parts = ', '.join(f'model.{p}' for p in pretrained_parts(TINY[tiny]))
    assert f'{parts} load 318 tensors from {mocov2_r50_backbone_file}' in log
    assert log.count(f'load model from: {mocov2_r50_backbone_file}') == \
        len(pretrained_parts(TINY[tiny]))
    assert 'SyncBatchNorm (SyncBN) layers in the model will be ' \
        'automatically reverted' in log
    assert re.search(r'\(train\) (\[1\])?\[4/4\]', log), log[-3000:]
    for metric in metrics:
        found = re.search(rf'\(val\) .*{metric}: ([\d.]+)', log)
        # (the metrics score a perfect prediction perfectly and a wrong one
        # less: test_tiny_downstream_data.py)
        assert found is not None, f'{metric} not in the log: {log[-3000:]}'
