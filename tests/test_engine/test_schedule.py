"""set_max_epochs: one way to shorten a config's training, its schedule
with it."""
import copy
import runpy
import sys
from pathlib import Path

import pytest
from mmengine.config import Config

from hexa_mm.engine.schedule import set_max_epochs
from hexa_mm.utils import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


def test_schedulers_that_end_with_training_move_with_it() -> None:
    cfg = Config(
        dict(
            train_cfg=dict(max_epochs=40),
            param_scheduler=[
                dict(type='LinearLR', begin=0, end=5),
                dict(type='CosineAnnealingLR', T_max=35, begin=5, end=40),
                dict(type='ConstantLR', begin=0),
            ]))
    set_max_epochs(cfg, 10)
    warmup, cosine, constant = cfg.param_scheduler
    assert cfg.train_cfg.max_epochs == 10
    assert (warmup.begin, warmup.end) == (0, 5)
    assert (cosine.T_max, cosine.begin, cosine.end) == (5, 5, 10)
    assert 'end' not in constant


def test_a_schedule_without_end_follows_max_epochs() -> None:
    cfg = Config.fromfile(
        str(CONFIGS /
            'mocov2/mocov2_resnet18-cifar_8xb32-coslr-200e_cifar10.py'))
    before = copy.deepcopy(cfg.param_scheduler)
    set_max_epochs(cfg, 3)
    assert cfg.train_cfg.max_epochs == 3
    assert cfg.param_scheduler == before
    assert 'end' not in cfg.param_scheduler[0]


def test_bad_lengths_are_config_errors() -> None:
    with pytest.raises(ConfigError, match='must be >= 1'):
        set_max_epochs(Config(dict(train_cfg=dict(max_epochs=2))), 0)
    with pytest.raises(ConfigError, match='train_cfg.max_iters'):
        set_max_epochs(Config(dict(train_cfg=dict(max_iters=2))), 3)


def test_train_py_max_epochs_shortens_the_schedule(monkeypatch) -> None:
    train_py = runpy.run_path(str(CONFIGS.parent / 'tools/train.py'))
    config = CONFIGS / (
        'mocov2/'
        'mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py')
    monkeypatch.setattr(
        sys, 'argv', ['train.py', str(config), '--max-epochs', '4'])
    args = train_py['parse_args']()
    cfg = train_py['merge_args'](Config.fromfile(str(config)), args)
    assert cfg.train_cfg.max_epochs == 4
    [cosine] = cfg.param_scheduler
    assert (cosine.T_max, cosine.end) == (4, 4)


@pytest.mark.parametrize('long, short, epochs, splits', [
    ('mocov2/mocov2_resnet18-cifar-w16_1xb64-coslr-148e_digits16.py',
     'mocov2/mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py', 148, 8),
    ('hexa_mocov2/hexa-mocov2_resnet18-cifar-w16_1xb64-coslr-148e_digits16.py',
     'hexa_mocov2/hexa-mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py',
     148, 8),
    ('deepclusterv2/'
     'deepclusterv2_resnet18-cifar-w16_1xb64-coslr-156e_digits16.py',
     'deepclusterv2/'
     'deepclusterv2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py', 156,
     None),
])
def test_long_digits16_configs_train_as_measured(long, short, epochs,
                                                 splits) -> None:
    """A long digits16 config is its 40-epoch config lengthened by
    set_max_epochs (what the measured runs trained), with the batch-norm
    groups changed where its README says, and nothing else."""
    cfg = Config.fromfile(str(CONFIGS / long))
    expected = Config.fromfile(str(CONFIGS / short))
    set_max_epochs(expected, epochs)
    if splits is not None:
        expected.model.backbone.norm_cfg.num_splits = splits
    expected.default_hooks.checkpoint.interval = epochs
    got, want = cfg.to_dict(), expected.to_dict()
    got.pop('max_epochs')
    want.pop('max_epochs')
    assert got == want
    assert cfg.param_scheduler[0].T_max == epochs
