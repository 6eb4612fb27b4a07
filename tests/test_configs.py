"""Checks every pre-training config against the OpenMMLab name it carries."""
import re
from pathlib import Path

import pytest
from mmengine.config import Config

REPO = Path(__file__).resolve().parents[1]
PRETRAINING = sorted(
    path for folder in ('mocov2', 'hexa_mocov2', 'deepclusterv2',
                        'hexa_deepclusterv2')
    for path in (REPO / 'configs' / folder).glob('*.py'))


@pytest.mark.parametrize(
    'path', PRETRAINING, ids=[path.name for path in PRETRAINING])
def test_auto_scale_lr_base_is_the_batch_of_the_name(path: Path) -> None:
    """``{N}xb{M}`` names the global batch the config's lr is for, which
    ``--auto-scale-lr`` scales from: at that batch it must not change the
    lr."""
    processes, per_process = map(
        int,
        re.search(r'_(\d+)xb(\d+)-', path.name).groups())
    cfg = Config.fromfile(path)
    assert cfg.train_dataloader.batch_size == per_process
    assert cfg.auto_scale_lr.base_batch_size == processes * per_process
