"""tools/model_converters/extract_backbone_weights.py on MoCo-v2 files."""
import runpy
import sys
from pathlib import Path
from typing import Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools/model_converters/extract_backbone_weights.py'
DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'


def run_tool(monkeypatch, capsys, *args: str) -> Tuple[int, str, str]:
    """Run the CLI in-process; return its exit status, stdout and stderr."""
    monkeypatch.setattr(sys, 'argv', [str(TOOL), *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TOOL), run_name='__main__')
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope='module')
def mocov2(tmp_path_factory) -> Tuple[torch.nn.Module, Path]:
    """A MoCo-v2 ResNet-18 and a training checkpoint of it."""
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(DIGITS)
    cfg.model.queue_len = 64
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        model = MODELS.build(cfg.model)
    with torch.no_grad():  # weights that differ from any fresh init
        for value in model.state_dict().values():
            if value.is_floating_point():
                value.add_(torch.randn_like(value))
    path = tmp_path_factory.mktemp('ckpt') / 'epoch_1.pth'
    torch.save(
        dict(
            meta=dict(epoch=1, iter=10),
            state_dict=model.state_dict(),
            optimizer=dict(state={}, param_groups=[dict(lr=0.1)])), path)
    return model, path


def test_extracts_exactly_the_backbone(mocov2, tmp_path, monkeypatch,
                                       capsys) -> None:
    model, ckpt = mocov2
    out = tmp_path / 'sub' / 'backbone.pth'
    code, stdout, _ = run_tool(monkeypatch, capsys, ckpt, out)
    assert code == 0
    weights = torch.load(out, weights_only=True)
    expected = model.backbone.state_dict()
    assert list(weights) == list(expected)
    for key, value in expected.items():
        assert torch.equal(weights[key], value), key
    params = sum(p.numel() for p in model.backbone.parameters())
    assert f'{len(expected)} tensors, {params:,} parameters' in stdout
    # the momentum encoder's copy, the neck and the queue are left out
    assert 'encoder_k 1' in stdout and 'neck 4' in stdout
    assert 'queue 1' in stdout and 'queue_ptr 1' in stdout
    assert 'optimizer' in stdout
    assert list(tmp_path.glob('sub/.tmp-*')) == []


def test_momentum_encoder_by_prefix(mocov2, tmp_path, monkeypatch,
                                    capsys) -> None:
    model, ckpt = mocov2
    out = tmp_path / 'key_backbone.pth'
    code, _, _ = run_tool(monkeypatch, capsys, ckpt, out, '--prefix',
                          'encoder_k.module.0.')
    assert code == 0
    weights = torch.load(out, weights_only=True)
    expected = model.encoder_k.module[0].state_dict()
    assert weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], v) for k, v in expected.items())


def test_no_backbone_keys_writes_nothing(mocov2, tmp_path, monkeypatch,
                                         capsys) -> None:
    model, _ = mocov2
    neck_only = tmp_path / 'neck.pth'
    torch.save(dict(state_dict=model.neck.state_dict()), neck_only)
    out = tmp_path / 'backbone.pth'
    code, _, err = run_tool(monkeypatch, capsys, neck_only, out)
    assert code == 2
    assert err.startswith('error: ') and err.count('\n') == 1
    assert 'backbone.' in err
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ['neck.pth']


def test_existing_out_is_untouched_without_force(mocov2, tmp_path, monkeypatch,
                                                 capsys) -> None:
    model, ckpt = mocov2
    out = tmp_path / 'backbone.pth'
    out.write_bytes(b'keep me')
    code, _, err = run_tool(monkeypatch, capsys, ckpt, out)
    assert code == 2 and '--force' in err
    assert out.read_bytes() == b'keep me'
    code, _, _ = run_tool(monkeypatch, capsys, ckpt, out, '--force')
    assert code == 0
    assert torch.load(out, weights_only=True).keys() == \
        model.backbone.state_dict().keys()


def test_missing_checkpoint(tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / 'backbone.pth'
    code, _, err = run_tool(monkeypatch, capsys, tmp_path / 'nope.pth', out)
    assert code == 2
    assert err.startswith('error: ') and 'nope.pth' in err
    assert not out.exists()


class Foreign:
    """A class no allow-list knows."""


def test_unsafe_checkpoint_is_one_clean_line(tmp_path, monkeypatch,
                                             capsys) -> None:
    evil = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Foreign()}, evil)
    out = tmp_path / 'backbone.pth'
    code, _, err = run_tool(monkeypatch, capsys, evil, out)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ')
    assert str(evil) in lines[0]
    assert f'global {__name__}.Foreign' in lines[0]
    assert '\x1b' not in err  # no terminal escape codes
    assert not out.exists()
