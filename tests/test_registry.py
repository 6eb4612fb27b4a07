"""Registries: hexa_mm's are children of mmpretrain's; users extend them."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mmengine.registry import DefaultScope
from mmpretrain import registry as mmpretrain_registry

import hexa_mm.registry as registry
from hexa_mm.utils import register_all_modules

ROOT = Path(__file__).resolve().parents[1]
register_all_modules()


@pytest.mark.parametrize('name', registry.__all__)
def test_every_registry_is_a_child_of_mmpretrains(name: str) -> None:
    ours = getattr(registry, name)
    assert ours.scope == 'hexa_mm'
    assert ours.parent is getattr(mmpretrain_registry, name)


def test_default_scope_reaches_all_three_libraries() -> None:
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        assert registry.MODELS.get('MoCoV2').__module__.startswith('hexa_mm')
        assert registry.MODELS.get('ResNet').__module__.startswith(
            'mmpretrain')
        assert registry.OPTIM_WRAPPERS.get('OptimWrapper').__module__. \
            startswith('mmengine')
        assert registry.HOOKS.get('CheckpointHook') is not None
        assert registry.TRANSFORMS.get('MultiView') is not None
        assert registry.METRICS.get('KNNAccuracy').__module__.startswith(
            'hexa_mm')
        # hexa_mm's numpy-2-safe ColorJitter shadows mmpretrain's
        assert registry.TRANSFORMS.get('ColorJitter').__module__.startswith(
            'hexa_mm')


EXTENSION = '''
"""A user's own algorithm, registered from outside hexa_mm."""
import torch
from torch import nn

from hexa_mm.models import PseudoLabelAlgorithm, PseudoLabels
from hexa_mm.registry import MODELS


@MODELS.register_module()
class RotationGuess(PseudoLabelAlgorithm):
    """Pseudo-label: how often the first view was rotated by 90 degrees."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.fc = nn.Linear(512, 4)

    def source_views(self, inputs):
        turns = torch.arange(inputs[0].shape[0]) % 4
        return [torch.stack([torch.rot90(x, int(t), (1, 2))
                             for x, t in zip(inputs[0], turns)])]

    def pseudo_labels(self, inputs, data_samples):
        turns = torch.arange(inputs[0].shape[0]) % 4
        return PseudoLabels(torch.eye(4)[turns])

    def encode(self, view):
        return self.backbone(view)[-1].mean(dim=(2, 3))

    def classify(self, embedding, labels):
        return self.fc(embedding)
'''


def test_a_user_package_trains_through_custom_imports(tmp_path: Path) -> None:
    (tmp_path / 'my_ext.py').write_text(EXTENSION)
    config = tmp_path / 'rotation_digits.py'
    config.write_text(
        textwrap.dedent(f'''
        _base_ = ['{ROOT}/configs/_base_/datasets/digits_mocov2.py',
                  '{ROOT}/configs/_base_/default_runtime.py']
        custom_imports = dict(imports=['my_ext'], allow_failed_imports=False)
        model = dict(
            type='RotationGuess',
            data_preprocessor=dict(type='SelfSupDataPreprocessor',
                                   mean=[78.85] * 3, std=[88.94] * 3),
            backbone=dict(type='ResNet', depth=18))
        train_dataloader = dict(batch_size=8,
                                dataset=dict(indices=24))
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01))
        train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1)
        val_dataloader = None
        val_evaluator = None
        val_cfg = None
        default_hooks = dict(logger=dict(interval=1),
                             checkpoint=dict(interval=1))
        '''))
    proc = subprocess.run(
        [sys.executable, str(ROOT / 'tools/train.py'), str(config),
         '--work-dir', str(tmp_path / 'work')],
        cwd=tmp_path,
        env={'PYTHONPATH': f'{tmp_path}:{ROOT}', 'OMP_NUM_THREADS': '1',
             'PATH': '/usr/bin:/bin'},
        capture_output=True,
        text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Epoch(train) [1][3/3]' in proc.stdout + proc.stderr
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
