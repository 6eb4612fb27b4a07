"""mmpretrain's own tools/train.py (shipped in its package, as ``mim train``
runs it) trains hexa_mm configs: nothing hexa_mm-specific in the entry."""
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import mmpretrain
import pytest
import torch
from mmengine.config import Config
from torch.utils.data import DataLoader

from conftest import NARROW
from forkrun import run_python

ROOT = Path(__file__).resolve().parents[2]
MMPRETRAIN_TRAIN = Path(mmpretrain.__file__).parent / '.mim/tools/train.py'
# 24 train images at batch 8: 3 iterations; a small kNN bank and query;
# the narrow network of the suite's short runs
TINY = [
    'train_cfg.max_epochs=1', 'train_dataloader.batch_size=8',
    'train_dataloader.dataset.indices=24',
    'val_dataloader.dataset.bank.indices=32',
    'val_dataloader.dataset.query.indices=16',
    'default_hooks.logger.interval=1', *NARROW
]
MMPRETRAIN_CONFIGS = sorted(
    p for pattern in ('mocov2/*.py', 'deepclusterv2/*.py', 'hexa_*/*.py',
                      'benchmarks/classification/*/*.py')
    for p in (ROOT / 'configs').glob(pattern))


def mmpretrain_train_module() -> ModuleType:
    """mmpretrain's ``tools/train.py``, imported as a module.

    Returns:
        ModuleType: The script's module (``parse_args``, ``merge_args``).
    """
    assert MMPRETRAIN_TRAIN.is_file(), \
        f'mmpretrain ships tools/train.py at {MMPRETRAIN_TRAIN}'
    spec = importlib.util.spec_from_file_location('mmpretrain_train',
                                                  MMPRETRAIN_TRAIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    'config', MMPRETRAIN_CONFIGS,
    ids=lambda p: str(p.relative_to(ROOT / 'configs')))
def test_loaders_are_valid_with_mmpretrain_defaults(
        config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    train_py = mmpretrain_train_module()
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(sys, 'argv', ['train.py', str(config)])
    cfg = train_py.merge_args(Config.fromfile(str(config)),
                              train_py.parse_args())
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader is None:
            continue
        # torch refuses persistent workers without workers
        DataLoader(
            range(1),
            num_workers=loader.num_workers,
            persistent_workers=loader.persistent_workers)


# The first in a new interpreter, where hexa_mm is imported only through
# the config (its runner_type, custom_imports): mmpretrain's train.py
# imports mmengine and mmpretrain, then builds runner_type
# 'hexa_mm.HexaRunner' from mmengine's RUNNERS, which imports hexa_mm on
# meeting its scope; the second forked from the preloaded server
# (forkrun.run_python), where it already is.
@pytest.mark.parametrize('config,options,run', [
    ('hexa_mocov2/hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py',
     ['model.queue_len=64'], 'cold'),
    ('deepclusterv2/deepclusterv2_resnet18_2xb64-coslr-30e_digits.py',
     ['model.num_prototypes=[8,8]'], 'forked'),
])
@pytest.mark.integration
def test_mmpretrain_train_py_trains_a_digits_config(config: str,
                                                     options: list, run: str,
                                                     tmp_path: Path) -> None:
    args = [
        MMPRETRAIN_TRAIN, ROOT / 'configs' / config, '--work-dir',
        tmp_path / 'work', '--cfg-options', *TINY, *options
    ]
    env = {'PYTHONPATH': str(ROOT), 'OMP_NUM_THREADS': '1',
           'PATH': '/usr/bin:/bin', 'CUDA_VISIBLE_DEVICES': ''}
    if run == 'forked':
        proc = run_python(args, env=env, cwd=tmp_path, timeout=600)
    else:
        proc = subprocess.run([sys.executable, *map(str, args)],
                              cwd=tmp_path,
                              env=env,
                              capture_output=True,
                              text=True,
                              timeout=600)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    assert 'Epoch(train) [1][3/3]' in log
    assert 'knn/top1:' in log
    # HexaRunner saved it: loadable with weights only (mmengine's Runner
    # saves numpy objects that torch refuses)
    ckpt = torch.load(tmp_path / 'work/epoch_1.pth', weights_only=True)
    assert ckpt['meta']['iter'] == 3
