"""The tiny downstream data through mmdet's and mmseg's own datasets, base
configs and metrics: what was generated is what they load, and a perfect
prediction scores perfectly."""
import filecmp
import importlib.util
import json
import os
import os.path as osp
import runpy
import sys
from pathlib import Path
from typing import Dict, List, Tuple

import mmcv
import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from mmengine.hub import get_config
from mmengine.registry import DATASETS, DefaultScope
from mmengine.structures import InstanceData, PixelData
from PIL import Image
from scipy.ndimage import binary_dilation

from hexa_mm.testing.tiny_downstream import (CITYSCAPES_CLASSES,
                                              COCO_CATEGORIES, THING_CLASSES,
                                              VOC_CLASSES, Scene,
                                              make_tiny_downstream_data,
                                              tiny_scenes)

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools/dataset_converters/make_tiny_downstream_data.py'
NUM_TRAIN, NUM_VAL = 12, 8  # the fixture's (the generator's defaults)


def extent(mask: np.ndarray) -> Tuple[int, int, int, int]:
    """(first column, first row, last column, last row) of a mask."""
    rows, cols = np.nonzero(mask)
    return cols.min(), rows.min(), cols.max(), rows.max()


def evaluate(metric: dict, meta: dict, samples: list) -> Dict[str, float]:
    """Run a metric over data samples (registries: the default scope's)."""
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = meta
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def assert_image(path: str, scene: Scene, lossy: bool) -> None:
    """The image file holds the scene's image (JPEG: up to its loss)."""
    img = mmcv.imread(path, channel_order='rgb').astype(int)
    assert img.shape == scene.img.shape
    if lossy:
        # two different scenes differ by 50 or more
        assert np.abs(img - scene.img).mean() < 10
    else:
        assert (img == scene.img).all()


def test_voc_detection_base_config(tiny_downstream_data: dict) -> None:
    from mmdet.datasets import VOCDataset
    assert VOC_CLASSES == VOCDataset.METAINFO['classes']
    cfg = get_config('mmdet::_base_/datasets/voc0712.py')
    data_root = tiny_downstream_data['voc'] + '/'
    cfg.train_dataloader.dataset.dataset.datasets[0].data_root = data_root
    cfg.train_dataloader.dataset.dataset.datasets[1].data_root = data_root
    cfg.val_dataloader.dataset.data_root = data_root
    with DefaultScope.overwrite_default_scope('mmdet'):
        train = DATASETS.build(cfg.train_dataloader.dataset)
        val = DATASETS.build(cfg.val_dataloader.dataset)
        # VOC07 trainval + VOC12 trainval, repeated 3 times; nothing is
        # filtered or ignored by min_size=32, bbox_min_size=32
        assert len(train) == 3 * (NUM_TRAIN + NUM_TRAIN + NUM_VAL)
        voc07, voc12 = train.dataset.datasets
        expected = [(voc07, tiny_scenes('voc2007_trainval', NUM_TRAIN)),
                    (voc12, tiny_scenes('voc2012_train', NUM_TRAIN) +
                     tiny_scenes('voc2012_val', NUM_VAL)),
                    (val, tiny_scenes('voc2007_test', NUM_VAL))]
        for dataset, scenes in expected:
            assert len(dataset) == len(scenes)
            for i, scene in enumerate(scenes):
                info = dataset.get_data_info(i)
                assert (info['height'], info['width']) == scene.img.shape[:2]
                assert_image(info['img_path'], scene, lossy=True)
                instances = info['instances']
                assert [VOC_CLASSES[inst['bbox_label']]
                        for inst in instances] == list(scene.labels)
                # mmdet subtracts 1 from VOC's 1-based inclusive boxes
                assert [tuple(inst['bbox']) for inst in instances
                        ] == [extent(mask) for mask in scene.masks]
                assert all(inst['ignore_flag'] == 0 for inst in instances)

        samples = [val[i]['data_samples'] for i in range(len(val))]
        for sample in samples:
            gt = sample.gt_instances
            sample.pred_instances = InstanceData(bboxes=gt.bboxes.tensor,
                                                 scores=torch.ones(len(gt)),
                                                 labels=gt.labels)
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['pascal_voc/mAP'] == 1.0
        # a missed object costs recall: the metric does read our boxes
        samples[0].pred_instances = samples[0].pred_instances[1:]
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['pascal_voc/mAP'] < 1.0


def test_coco_instance_base_config(tiny_downstream_data: dict) -> None:
    from mmdet.datasets import CocoDataset
    classes = CocoDataset.METAINFO['classes']
    assert tuple(name for _, name in COCO_CATEGORIES) == classes
    ann_file = osp.join(tiny_downstream_data['coco'],
                        'annotations/instances_val2017.json')
    with open(ann_file) as f:
        categories = json.load(f)['categories']
    ids = {cat['name']: cat['id'] for cat in categories}
    assert len(ids) == 80
    # COCO's own ids of person, car, bird, cat, dog
    assert [ids[name] for name in THING_CLASSES] == [1, 3, 16, 17, 18]
    cfg = get_config('mmdet::_base_/datasets/coco_instance.py')
    data_root = tiny_downstream_data['coco'] + '/'
    cfg.train_dataloader.dataset.data_root = data_root
    cfg.val_dataloader.dataset.data_root = data_root
    cfg.val_evaluator.ann_file = ann_file  # the base config's is computed
    with DefaultScope.overwrite_default_scope('mmdet'):
        train = DATASETS.build(cfg.train_dataloader.dataset)
        val = DATASETS.build(cfg.val_dataloader.dataset)
        assert len(train) == NUM_TRAIN  # min_size=32 filters none
        for dataset, split in ((train, 'train2017'), (val, 'val2017')):
            scenes = tiny_scenes(f'coco_{split}', len(dataset))
            for i, scene in enumerate(scenes):
                info = dataset.get_data_info(i)
                assert_image(info['img_path'], scene, lossy=True)
                assert [
                    classes[inst['bbox_label']] for inst in info['instances']
                ] == list(scene.labels)
        samples = []
        for i, scene in enumerate(tiny_scenes('coco_val2017', NUM_VAL)):
            sample = val[i]['data_samples']
            gt = sample.gt_instances
            masks = gt.masks.to_ndarray().astype(bool)  # from the polygons
            assert (masks == scene.masks).all()
            assert [classes[label]
                    for label in gt.labels] == list(scene.labels)
            # COCO boxes are (x, y, w, h) of the pixels: x1 = last column + 1
            assert gt.bboxes.tensor.tolist() == [[
                x0, y0, x1 + 1, y1 + 1
            ] for x0, y0, x1, y1 in map(extent, masks)]
            sample.pred_instances = InstanceData(bboxes=gt.bboxes.tensor,
                                                 scores=torch.ones(len(gt)),
                                                 labels=gt.labels,
                                                 masks=torch.from_numpy(masks))
            samples.append(sample)
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['coco/bbox_mAP'] == 1.0
        assert metric['coco/segm_mAP'] == 1.0
        pred = samples[0].pred_instances
        pred.masks = torch.zeros_like(pred.masks)
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['coco/bbox_mAP'] == 1.0
        assert metric['coco/segm_mAP'] < 1.0


def voc_semantic(scene: Scene) -> np.ndarray:
    """VOC class indices of a scene: 0 background, class index + 1."""
    seg = np.zeros(scene.img.shape[:2], dtype=np.uint8)
    for label, mask in zip(scene.labels, scene.masks):
        seg[mask] = VOC_CLASSES.index(label) + 1
    return seg


def test_voc12aug_segmentation_base_config(tiny_downstream_data: dict) -> None:
    from mmseg.datasets import PascalVOCDataset
    palette = np.asarray(PascalVOCDataset.METAINFO['palette']).ravel()
    cfg = get_config('mmseg::_base_/datasets/pascal_voc12_aug.py')
    data_root = osp.join(tiny_downstream_data['voc'], 'VOC2012')
    datasets = cfg.train_dataloader.dataset.datasets
    for dataset in (*datasets, cfg.val_dataloader.dataset):
        dataset.data_root = data_root
    with DefaultScope.overwrite_default_scope('mmseg'):
        train = DATASETS.build(cfg.train_dataloader.dataset)
        assert len(train) == NUM_TRAIN + NUM_TRAIN  # train + aug lists
        train_scenes = tiny_scenes('voc2012_train', NUM_TRAIN)
        val_scenes = tiny_scenes('voc2012_val', NUM_VAL)
        checks = [(datasets[0], train_scenes), (datasets[1], train_scenes),
                  (cfg.val_dataloader.dataset, val_scenes)]
        for dataset_cfg, scenes in checks:
            dataset = DATASETS.build(
                dict(dataset_cfg, pipeline=[dict(type='LoadAnnotations')]))
            for i, scene in enumerate(scenes):
                result = dataset[i]
                assert_image(result['img_path'], scene, lossy=True)
                loaded = result['gt_seg_map']
                expected = voc_semantic(scene)
                if 'Aug' in result['seg_map_path']:
                    assert (loaded == expected).all()
                    continue
                png = Image.open(result['seg_map_path'])
                assert png.mode == 'P'
                assert png.getpalette()[:palette.size] == palette.tolist()
                # a 255 band, 2 pixels wide, around the objects
                things = expected > 0
                band = binary_dilation(things, np.ones((5, 5))) & ~things
                assert (loaded[band] == 255).all()
                assert (loaded[~band] == expected[~band]).all()

        val = DATASETS.build(cfg.val_dataloader.dataset)
        samples = [val[i]['data_samples'] for i in range(NUM_VAL)]
        for sample in samples:
            sample.pred_sem_seg = PixelData(data=sample.gt_sem_seg.data)
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['mIoU'] == 100.0
        samples[0].pred_sem_seg = PixelData(
            data=torch.zeros_like(samples[0].gt_sem_seg.data))
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['mIoU'] < 100.0


def test_cityscapes_base_config(tiny_downstream_data: dict) -> None:
    from mmseg.datasets import CityscapesDataset
    assert CITYSCAPES_CLASSES == CityscapesDataset.METAINFO['classes']
    cfg = get_config('mmseg::_base_/datasets/cityscapes.py')
    cfg.train_dataloader.dataset.data_root = tiny_downstream_data['cityscapes']
    cfg.val_dataloader.dataset.data_root = tiny_downstream_data['cityscapes']
    with DefaultScope.overwrite_default_scope('mmseg'):
        train = DATASETS.build(cfg.train_dataloader.dataset)
        val = DATASETS.build(cfg.val_dataloader.dataset)
        assert len(train) == NUM_TRAIN
        for i, scene in enumerate(tiny_scenes('cityscapes_train', NUM_TRAIN)):
            info = train.get_data_info(i)
            assert_image(info['img_path'], scene, lossy=False)
            seg = mmcv.imread(info['seg_map_path'], flag='unchanged')
            assert (seg == scene.seg).all()
        samples = []
        for i, scene in enumerate(tiny_scenes('cityscapes_val', NUM_VAL)):
            sample = val[i]['data_samples']
            gt = sample.gt_sem_seg.data
            assert (gt[0].numpy() == scene.seg).all()
            assert (gt == 255).any()  # the ego hood is ignored
            sample.pred_sem_seg = PixelData(data=gt)
            samples.append(sample)
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['mIoU'] == 100.0
        samples[0].pred_sem_seg = PixelData(
            data=torch.zeros_like(samples[0].gt_sem_seg.data))
        metric = evaluate(cfg.val_evaluator, val.metainfo, samples)
        assert metric['mIoU'] < 100.0


def files(root: str) -> List[str]:
    """Every file under ``root``, relative and sorted."""
    return sorted(
        osp.relpath(osp.join(folder, name), root)
        for folder, _, names in os.walk(root) for name in names)


def test_same_seed_same_files(tiny_downstream_data: dict,
                              tmp_path: Path) -> None:
    first = osp.dirname(tiny_downstream_data['voc'])
    roots = make_tiny_downstream_data(str(tmp_path), seed=0)
    assert roots == {
        key: osp.join(str(tmp_path), osp.basename(path))
        for key, path in tiny_downstream_data.items()
    }
    names = files(first)
    assert names == files(str(tmp_path))
    _, mismatch, errors = filecmp.cmpfiles(first,
                                           str(tmp_path),
                                           names,
                                           shallow=False)
    assert mismatch == errors == []


def test_cli_other_seed_and_force(tiny_downstream_data: dict, tmp_path: Path,
                                  capsys) -> None:
    spec = importlib.util.spec_from_file_location('tool', TOOL)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    main = tool.main
    out = tmp_path / 'out'
    assert main(
        [str(out), '--seed', '1', '--num-train', '2', '--num-val', '1']) == 0
    assert 'coco: train2017 2 / val2017 1' in capsys.readouterr().out
    assert len(os.listdir(out / 'coco/train2017')) == 2
    assert len(os.listdir(out / 'cityscapes/leftImg8bit/val/frankfurt')) == 1
    first = osp.dirname(tiny_downstream_data['voc'])
    name = 'VOCdevkit/VOC2012/JPEGImages/2012_000001.jpg'
    assert not filecmp.cmp(osp.join(first, name), out / name, shallow=False)
    # --force writes into a non-empty folder
    assert main([str(out), '--force', '--num-train', '1', '--num-val',
                 '1']) == 0
    assert filecmp.cmp(osp.join(first, name), out / name, shallow=False)
    assert main([str(out), '--num-val', '0', '--force']) == 2
    assert capsys.readouterr().err.startswith('error: num_train=12 and ')


def test_cli_refuses_non_empty_out_dir(tmp_path: Path, capsys,
                                       monkeypatch) -> None:
    (tmp_path / 'keep.txt').write_text('mine')
    monkeypatch.setattr(sys, 'argv', [str(TOOL), str(tmp_path)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TOOL), run_name='__main__')
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f'error: OUT_DIR {tmp_path} is not empty: pass --force to write into '
        'it, or choose an empty folder'
    ]
    assert os.listdir(tmp_path) == ['keep.txt']
    assert (tmp_path / 'keep.txt').read_text() == 'mine'
    monkeypatch.setattr(sys, 'argv', [str(TOOL), str(tmp_path / 'keep.txt')])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TOOL), run_name='__main__')
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith('error: OUT_DIR ')
    assert (tmp_path / 'keep.txt').read_text() == 'mine'
