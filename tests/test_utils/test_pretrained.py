"""Tests of hexa_mm.engine.pretrained and hexa_mm.utils.dataset_files: what
downstream benchmarks load, and the errors for what they cannot."""
import os
import subprocess
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from forkrun import run_python
from hexa_mm import register_all_modules
from hexa_mm.engine.checkpoint import load_weights_only
from hexa_mm.engine.pretrained import (check_init_checkpoints,
                                      check_pretrained_keys,
                                      extract_backbone_state_dict,
                                      resolve_pretrained, set_pretrained)
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError
from hexa_mm.utils.dataset_files import check_dataset_files
from hexa_mm.utils.errors import CheckpointError

REPO = Path(__file__).resolve().parents[2]
MOCO_DIGITS = REPO / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'


@pytest.fixture(scope='module')
def moco():
    """A hexa_mm MoCo-v2 ResNet-18 (the digits pre-training model)."""
    register_all_modules(init_default_scope=False)
    model = MODELS.build(Config.fromfile(MOCO_DIGITS).model)
    with torch.no_grad():  # make backbone and momentum encoder differ
        for param in model.backbone.parameters():
            param.add_(1.0)
    return model


@pytest.fixture
def training_checkpoint(moco, tmp_path) -> Path:
    """A checkpoint as HexaRunner saves one (weights-only loadable)."""
    path = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(meta=dict(epoch=1), state_dict=moco.state_dict(),
             optimizer=dict(state={}, param_groups=[])), path)
    return path


def classifier_cfg(depth: int, **backbone) -> Config:
    """An mmpretrain linear-probe-like config with a ResNet backbone."""
    return Config(
        dict(
            default_scope='mmpretrain',
            model=dict(
                type='ImageClassifier',
                backbone=dict(type='ResNet', depth=depth, **backbone),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead',
                    num_classes=10,
                    in_channels=512 if depth < 50 else 2048))))


def test_extract_keeps_exactly_the_query_backbone(moco):
    backbone = extract_backbone_state_dict(dict(state_dict=moco.state_dict()))
    expected = moco.backbone.state_dict()
    assert list(backbone) == list(expected)
    for key, value in expected.items():
        assert torch.equal(backbone[key], value), key
    # the momentum encoder's backbone differs: it must not leak in
    momentum = moco.encoder_k.module[0].state_dict()
    assert not torch.equal(backbone['conv1.weight'], momentum['conv1.weight'])


def test_extract_without_backbone_keys_names_what_it_found():
    with pytest.raises(ConfigError, match='no "backbone.\\*" weights.*neck'):
        extract_backbone_state_dict(
            dict(state_dict={'neck.fc.weight': torch.zeros(2)}))


def test_extract_from_an_extracted_backbone_says_so(moco):
    with pytest.raises(ConfigError, match='looks like an extracted'):
        extract_backbone_state_dict(moco.backbone.state_dict())


def test_resolve_extracts_a_training_checkpoint(moco, training_checkpoint,
                                                tmp_path):
    path, how = resolve_pretrained(str(training_checkpoint),
                                   str(tmp_path / 'work'))
    assert path == str(tmp_path / 'work' / 'pretrain_backbone.pth')
    assert 'training checkpoint' in how
    saved = torch.load(path, weights_only=True)
    assert list(saved) == list(moco.backbone.state_dict())
    # a backbone file is then used as it is
    again, how = resolve_pretrained(path, str(tmp_path / 'other'))
    assert again == path and 'backbone weights' in how
    assert not (tmp_path / 'other').exists()


def test_resolve_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(ConfigError, match='nope.pth does not exist'):
        resolve_pretrained(str(tmp_path / 'nope.pth'), str(tmp_path))
    torch.save(dict(state_dict={'head.fc.weight': torch.zeros(2)}),
               tmp_path / 'head.pth')
    with pytest.raises(ConfigError, match='head.pth.*not a hexa_mm'):
        resolve_pretrained(str(tmp_path / 'head.pth'), str(tmp_path))
    torch.save(dict(state_dict=ConfigError('x')), tmp_path / 'pickled.pth')
    with pytest.raises(
            CheckpointError,
            match='pickled.pth: it needs the not-allow-listed global '
            'hexa_mm.utils.errors.ConfigError'):
        load_weights_only(str(tmp_path / 'pickled.pth'))
    assert not (tmp_path / 'pretrain_backbone.pth').exists()


def test_set_pretrained_backbone_shared_head_and_mmseg_pretrained():
    cfg = Config(
        dict(
            model=dict(
                pretrained='open-mmlab://resnet50_v1c',
                backbone=dict(type='ResNet', init_cfg=None),
                roi_head=dict(shared_head=dict(type='ResLayer')))))
    names = set_pretrained(cfg, 'b.pth')
    assert names == ['model.backbone', 'model.roi_head.shared_head']
    assert cfg.model.pretrained is None
    for part in (cfg.model.backbone, cfg.model.roi_head.shared_head):
        assert part.init_cfg == dict(type='Pretrained', checkpoint='b.pth')
    with pytest.raises(ConfigError, match='no model.backbone'):
        set_pretrained(Config(dict(model=dict(type='X'))), 'b.pth')


def test_check_pretrained_keys(moco, tmp_path):
    path = tmp_path / 'r18.pth'
    torch.save(moco.backbone.state_dict(), path)
    assert check_pretrained_keys(classifier_cfg(18), str(path)) == len(
        moco.backbone.state_dict())
    with pytest.raises(ConfigError, match='r18.pth does not fit '
                       'model.backbone \\(ResNet\\).*of another shape'):
        check_pretrained_keys(classifier_cfg(50), str(path))
    with pytest.raises(ConfigError, match='keys missing.*stem'):
        check_pretrained_keys(classifier_cfg(18, deep_stem=True), str(path))


def test_check_dataset_files_names_the_missing_file(tmp_path):
    (tmp_path / 'VOC2007/ImageSets/Main').mkdir(parents=True)
    (tmp_path / 'VOC2007/ImageSets/Main/trainval.txt').write_text('a\n')
    voc = dict(
        type='VOCDataset',
        data_root=str(tmp_path),
        ann_file='VOC2007/ImageSets/Main/trainval.txt',
        data_prefix=dict(sub_data_root='VOC2007/'))
    cfg = Config(
        dict(
            train_dataloader=dict(
                dataset=dict(
                    type='RepeatDataset',
                    times=3,
                    dataset=dict(
                        type='ConcatDataset',
                        datasets=[voc, dict(voc, ann_file='x/test.txt')])))))
    with pytest.raises(ConfigError) as err:
        check_dataset_files(cfg)
    assert f'ann_file {tmp_path}/x/test.txt does not exist' in str(err.value)
    cfg.train_dataloader.dataset.dataset.datasets.pop()
    check_dataset_files(cfg)
    cfg.val_dataloader = dict(
        dataset=dict(data_root=str(tmp_path), data_prefix='val'))
    with pytest.raises(ConfigError, match='val_dataloader: data_prefix'):
        check_dataset_files(cfg)


def test_check_dataset_files_imagenet_split_folder(tmp_path):
    """mmpretrain's ImageNet configs give data_root and split only: the
    images are in data_root/split."""
    imagenet = dict(type='ImageNet', data_root=str(tmp_path), split='train')
    cfg = Config(dict(train_dataloader=dict(dataset=imagenet)))
    with pytest.raises(ConfigError) as err:
        check_dataset_files(cfg)
    assert str(err.value).startswith(
        f"train_dataloader: split 'train' {tmp_path}/train does not exist")
    (tmp_path / 'train').mkdir()
    check_dataset_files(cfg)
    # a data_prefix given replaces the split's folder, as in mmpretrain
    cfg.train_dataloader.dataset.data_prefix = 'images'
    with pytest.raises(ConfigError, match=f'{tmp_path}/images does not'):
        check_dataset_files(cfg)


def test_check_init_checkpoints_names_the_empty_key():
    cfg = Config.fromfile(REPO / 'configs/benchmarks/classification/digits/'
                          'resnet18_linear-2xb64-steplr-10e_digits.py')
    with pytest.raises(ConfigError) as err:
        check_init_checkpoints(cfg)
    message = str(err.value)
    assert message.startswith('model.backbone.init_cfg.checkpoint is empty')
    assert ('--cfg-options model.backbone.init_cfg.checkpoint=FILE'
            in message)
    set_pretrained(cfg, 'b.pth')
    check_init_checkpoints(cfg)
    cfg.model.neck = dict(init_cfg=[
        dict(type='Normal', layer='Linear'),
        dict(type='Pretrained', checkpoint=None)
    ])
    with pytest.raises(ConfigError, match='^model.neck.init_cfg.1.checkpoint'):
        check_init_checkpoints(cfg)


def run_launcher(*args: str) -> subprocess.CompletedProcess:
    """Run tools/benchmarks/train_downstream.py."""
    return run_python(['tools/benchmarks/train_downstream.py', *args],
                      env=dict(os.environ,
                               OMP_NUM_THREADS='1',
                               PYTHONPATH=str(REPO)),
                      cwd=REPO)


@pytest.mark.integration
def test_launcher_bad_inputs_end_with_one_line(training_checkpoint,
                                               tmp_path):
    config = tmp_path / 'cls.py'
    classifier_cfg(18).dump(str(config))
    missing = run_launcher(str(config), str(tmp_path / 'none.pth'),
                           '--work-dir', str(tmp_path / 'w1'))
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f'error: checkpoint {tmp_path}/none.pth does not exist: pass the '
        'path of a hexa_mm checkpoint or an extracted backbone'
    ]
    no_data = tmp_path / 'cls_data.py'
    cfg = classifier_cfg(18)
    cfg.train_dataloader = dict(
        dataset=dict(
            type='CustomDataset',
            data_root=str(tmp_path / 'imagenet'),
            ann_file='meta/train_1percent.txt'))
    cfg.dump(str(no_data))
    missing_data = run_launcher(str(no_data), str(training_checkpoint),
                                '--work-dir', str(tmp_path / 'w3'))
    assert missing_data.returncode == 2
    assert missing_data.stderr.strip().splitlines() == [
        f'error: train_dataloader: ann_file {tmp_path}/imagenet/meta/'
        'train_1percent.txt does not exist: set data_root (or the dataset '
        "fields) to the data set; tools/dataset_converters/ has "
        'make_subset.py (classification subsets) and '
        'make_tiny_downstream_data.py (tiny VOC / COCO / Cityscapes)'
    ]
    assert not (tmp_path / 'w3').exists()
    wrong = run_launcher(str(config), str(training_checkpoint),
                         '--work-dir', str(tmp_path / 'w2'), '--cfg-options',
                         'model.backbone.depth=50')
    assert wrong.returncode == 2
    assert len(wrong.stderr.strip().splitlines()) == 1
    assert 'does not fit model.backbone' in wrong.stderr
