"""FormatOnceConfig: the config text mmengine's runner reads again and
again, formatted once."""
from pathlib import Path

import mmengine.config.config as mmengine_config
import pytest
import torch
from mmengine.config import Config

from conftest import MOCO_DIGITS
from hexa_mm.engine.config_text import FormatOnceConfig
from hexa_mm.engine.schedule import set_max_epochs
from hexa_mm.registry import RUNNERS
from hexa_mm.testing import NARROW_RESNET18


@pytest.fixture
def format_calls(monkeypatch: pytest.MonkeyPatch) -> list:
    """Count yapf's formatting calls behind ``Config.pretty_text``."""
    calls = []
    original = mmengine_config.FormatCode

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counting)
    return calls


def test_text_is_configs_and_formatted_once_per_content(
        format_calls: list) -> None:
    cfg = Config.fromfile(str(MOCO_DIGITS))
    expected = cfg.pretty_text
    once = FormatOnceConfig.of(cfg)
    format_calls.clear()
    assert once.pretty_text == expected
    assert once.pretty_text == expected
    assert once.dump() == expected
    assert len(format_calls) == 1
    # a change anywhere, however deep, is formatted again
    once.model.backbone.depth = 34
    changed = once.pretty_text
    assert 'depth=34' in changed and changed != expected
    assert changed == Config(once.to_dict()).pretty_text
    assert len(format_calls) == 3  # this one, and the Config's above
    assert FormatOnceConfig.of(once) is once


def test_the_runner_formats_its_config_once(tmp_path: Path,
                                            format_calls: list) -> None:
    cfg = Config.fromfile(str(MOCO_DIGITS))
    cfg.merge_from_dict({
        'train_dataloader.batch_size': 8,
        'train_dataloader.dataset.indices': 16,
        'model.queue_len': 16,
        **NARROW_RESNET18,
        'default_hooks.checkpoint.interval': 1,
        'work_dir': str(tmp_path),
    })
    set_max_epochs(cfg, 2)
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    runner = RUNNERS.build(cfg)
    runner.train()
    # read for the log, the runtime info, the dump, the visualizer and
    # each of two checkpoints: formatted once
    assert isinstance(runner.cfg, FormatOnceConfig)
    assert len(format_calls) == 1
    meta = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)['meta']
    assert meta['cfg'] == Config(runner.cfg.to_dict()).pretty_text
