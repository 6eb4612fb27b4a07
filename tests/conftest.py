"""Fixtures shared by the test suite."""
from pathlib import Path
from typing import Dict

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from hexa_mm.testing.tiny_downstream import make_tiny_downstream_data
from hexa_mm.registry import MODELS
from hexa_mm.utils import register_all_modules
from hexa_mm.utils.pretrained import extract_backbone_state_dict



def pytest_configure(config: pytest.Config) -> None:
    """Register the markers of the suite's tiers."""
    config.addinivalue_line(
        'markers', 'integration: subprocess trainings and downstream runs '
        '(deselect with -m "not integration")')


MOCO_R50 = (Path(__file__).resolve().parents[1] /
            'configs/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py')


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
