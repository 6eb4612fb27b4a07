"""Registries: hexa_mm's are children of the root registries, in scope
hexa_mm, that reach mmpretrain's and mmengine's types; users extend them."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import FUNCTIONS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import DefaultScope
from mmpretrain import registry as mmpretrain_registry

import forkrun
from hexa_mm import register_all_modules
from hexa_mm.engine import HexaRunner
from hexa_mm.models import MoCoV2
import hexa_mm.registry as registry

ROOT = Path(__file__).resolve().parents[1]
MOCO_DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
register_all_modules()


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter, where nothing is imported yet.

    Args:
        code (str): The program.
        cwd (Path): Its working directory.

    Returns:
        subprocess.CompletedProcess: The finished process, output captured.
    """
    return subprocess.run([sys.executable, '-c', textwrap.dedent(code)],
                          cwd=cwd,
                          env={'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1',
                               'PATH': '/usr/bin:/bin'},
                          capture_output=True,
                          text=True,
                          timeout=300)


@pytest.mark.parametrize('name', registry.__all__)
def test_every_registry_is_a_direct_child_of_its_root(name: str) -> None:
    ours = getattr(registry, name)
    root = getattr(mmpretrain_registry, name).root
    assert ours.scope == 'hexa_mm'
    assert ours.parent is root and root.parent is None
    assert root.children['hexa_mm'] is ours


def test_hexa_mm_names_resolve_from_other_libraries() -> None:
    assert MMENGINE_MODELS.get('hexa_mm.MoCoV2') is MoCoV2
    assert mmpretrain_registry.MODELS.get('hexa_mm.MoCoV2') is MoCoV2
    assert MMENGINE_RUNNERS.get('hexa_mm.HexaRunner') is HexaRunner


def test_default_scope_reaches_all_three_libraries() -> None:
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        assert registry.MODELS.get('MoCoV2').__module__.startswith('hexa_mm')
        assert registry.MODELS.get('ResNet').__module__.startswith(
            'mmpretrain')
        assert registry.MODELS.get('mmpretrain.ResNet') is \
            mmpretrain_registry.MODELS.get('ResNet')
        assert registry.OPTIM_WRAPPERS.get('OptimWrapper').__module__. \
            startswith('mmengine')
        assert registry.HOOKS.get('CheckpointHook') is not None
        assert registry.TRANSFORMS.get('MultiView') is not None
        assert registry.METRICS.get('KNNAccuracy').__module__.startswith(
            'hexa_mm')
        # hexa_mm's numpy-2-safe ColorJitter shadows mmpretrain's
        assert registry.TRANSFORMS.get('ColorJitter').__module__.startswith(
            'hexa_mm')
        assert registry.MODELS.get('NoSuchModel') is None


def config_types(node) -> set:
    """Every ``type`` string in a config.

    Args:
        node: A config, or any value inside one.

    Returns:
        set[str]: The string values of the ``type`` keys found.
    """
    if isinstance(node, dict):
        found = {node['type']} if isinstance(node.get('type'), str) else set()
        for value in node.values():
            found |= config_types(value)
        return found
    if isinstance(node, (list, tuple)):
        return set().union(*map(config_types, node))
    return set()


PRETRAIN_CONFIGS = sorted(
    p for folder in ('mocov2', 'deepclusterv2', 'hexa_mocov2',
                     'hexa_deepclusterv2')
    for p in (ROOT / 'configs' / folder).glob('*.py'))


@pytest.mark.parametrize('config', PRETRAIN_CONFIGS, ids=lambda p: p.stem)
def test_every_type_of_the_configs_resolves(config: Path) -> None:
    cfg = Config.fromfile(str(config))
    assert cfg.default_scope == 'hexa_mm'
    # collate functions live in mmengine's FUNCTIONS, looked up directly
    registries = [getattr(registry, name)
                  for name in registry.__all__] + [FUNCTIONS]
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        missing = [
            t for t in sorted(config_types(cfg.to_dict()))
            if all(r.get(t) is None for r in registries)
        ]
    assert not missing


# A runner resolved from mmengine's RUNNERS before hexa_mm is imported
# ('hexa_mm.HexaRunner': mmengine imports hexa_mm.registry on meeting the
# scope): mmpretrain's tools/train.py does just that, in a new interpreter,
# in tests/test_tools/test_mmpretrain_train.py.


@pytest.mark.integration
def test_a_bare_runner_type_builds_through_mmengine_with_custom_imports(
        tmp_path: Path) -> None:
    config = tmp_path / 'bare_runner_type.py'
    config.write_text(
        textwrap.dedent(f'''
        _base_ = ['{MOCO_DIGITS}']
        custom_imports = dict(imports=['hexa_mm'], allow_failed_imports=False)
        runner_type = 'HexaRunner'
        work_dir = '{tmp_path}/work'
        '''))
    proc = run_python(
        f"""
        from mmengine.config import Config
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(Config.fromfile('{config}'))
        print(type(runner).__module__, type(runner).__name__)
        """, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split()[-2:] == ['hexa_mm.engine.runner', 'HexaRunner']


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


@pytest.mark.integration
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
    # forked from the preloaded server (hexa_mm imported, my_ext not): what
    # imports my_ext and finds RotationGuess is train.py's config
    proc = forkrun.run_python(
        [ROOT / 'tools/train.py', config, '--work-dir', tmp_path / 'work'],
        cwd=tmp_path,
        env={'PYTHONPATH': f'{tmp_path}:{ROOT}', 'OMP_NUM_THREADS': '1',
             'PATH': '/usr/bin:/bin'},
        timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'Epoch(train) [1][3/3]' in proc.stdout + proc.stderr
    assert (tmp_path / 'work' / 'epoch_1.pth').is_file()
