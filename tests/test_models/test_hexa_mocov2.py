"""HEXA_MoCo: MoCo-v2 with CutMix and adversarial query views."""
import copy
import glob
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError

register_all_modules()

REPO = Path(__file__).resolve().parents[2]
GENERATORS = [
    dict(type='CutMixHardExample'),
    dict(type='AdversarialHardExample')
]
MODEL = dict(
    type='MoCoV2',
    queue_len=16,
    feat_dim=8,
    backbone=dict(type='ResNet', depth=18),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=512,
        hid_channels=16,
        out_channels=8,
        with_avg_pool=True))


def tiny(hard_examples=None) -> torch.nn.Module:
    """A tiny MoCoV2 (ResNet-18, small neck, queue 16), seeded weights."""
    torch.manual_seed(0)
    return MODELS.build(dict(MODEL, hard_examples=hard_examples or []))


def views(seed: int, num: int = 4) -> list:
    """Two views of random images; with no normalisation configured, a view
    is the image in 0-255."""
    gen = torch.Generator().manual_seed(seed)
    return [torch.rand(num, 3, 16, 16, generator=gen) * 255 for _ in range(2)]


def test_clean_term_and_queue_are_moco_v2s() -> None:
    moco = tiny().double()
    hexa = tiny(copy.deepcopy(GENERATORS)).double()
    for name, value in moco.state_dict().items():
        assert torch.equal(hexa.state_dict()[name], value), name
    for step in range(2):
        batch = [v.double() for v in views(step)]
        torch.manual_seed(step)
        plain = moco.loss(batch, None)
        torch.manual_seed(step)
        hard = hexa.loss(batch, None)
        assert set(plain) == {'loss_clean'}
        assert set(hard) == {
            'loss_clean', 'loss_cutmix', 'cutmix_rise', 'cutmix_lam',
            'loss_adv', 'adv_rise'
        }
        assert torch.allclose(
            hard['loss_clean'], plain['loss_clean'], rtol=0, atol=1e-12)
        # keys are clean, from the momentum encoder; the queue holds them only
        assert torch.equal(hexa.queue, moco.queue)
        assert torch.equal(hexa.queue_ptr, moco.queue_ptr)
        total, log_vars = hexa.parse_losses(hard)
        assert torch.allclose(
            total, hard['loss_clean'] + hard['loss_cutmix'] + hard['loss_adv'])
        assert {'cutmix_lam', 'adv_rise', 'cutmix_rise'} <= set(log_vars)
        # the clean term's gradient, taken early (clean_backward), is
        # MoCo-v2's
        moco.zero_grad()
        hexa.zero_grad()
        plain['loss_clean'].backward()
        hard['loss_clean'].backward(retain_graph=True)
        for (name, p), q in zip(moco.named_parameters(), hexa.parameters()):
            assert (p.grad is None) == (q.grad is None), name
            if p.grad is not None:
                assert torch.allclose(q.grad, p.grad, rtol=0, atol=1e-12), name
        hexa.zero_grad()
        total.backward()  # the hard terms train the query encoder only
        assert all(p.grad is None for p in hexa.encoder_k.parameters())
        assert hexa.backbone.conv1.weight.grad.abs().sum() > 0


def test_attack_starts_from_the_clean_loss_gradient() -> None:
    model = tiny(copy.deepcopy(GENERATORS)).double()
    batch = [v.double() for v in views(0)]
    labels = model.view_labels(batch, None)
    loss, clean = model.clean_pass(batch, labels, with_grads=True)
    query = batch[0].detach().requires_grad_(True)
    expected, = torch.autograd.grad(
        model.clean_loss([model.encode(query)], labels), query)
    assert torch.allclose(clean.grads[0], expected, rtol=0, atol=1e-12)
    assert not clean.views[0].requires_grad
    # one step of size ε along the sign of that gradient
    adv = model.hard_examples[1]
    hard = adv(model, clean, labels)[0][0]
    mean, std = (t.double() for t in model.pixel_scale())
    pixels = clean.views[0] * std + mean
    step = (hard - clean.views[0]) * std
    free = (pixels > adv.eps) & (pixels < 1 - adv.eps)
    assert torch.allclose(
        step[free], expected.sign()[free] * adv.eps, atol=1e-9)
    # without a generator asking, no gradient is taken
    assert model.clean_pass(batch, labels, with_grads=False)[1].grads is None


def test_no_early_gradient_under_float16_autocast() -> None:
    model = tiny(copy.deepcopy(GENERATORS))
    batch = views(0)
    labels = model.view_labels(batch, None)
    with torch.autocast('cpu', dtype=torch.float16):
        _, clean = model.clean_pass(batch, labels, with_grads=True)
    assert clean.grads is None
    with torch.autocast('cpu', dtype=torch.bfloat16):
        _, clean = model.clean_pass(batch, labels, with_grads=True)
    assert clean.grads is not None


def test_weights_scale_the_hard_terms() -> None:
    losses = []
    for weight in (0.5, 1.0):
        model = tiny([dict(g, weight=weight) for g in GENERATORS])
        np.random.seed(0)  # the same CutMix boxes
        losses.append(model.loss(views(0), None))
    half, full = losses
    for name in ('loss_cutmix', 'loss_adv'):
        assert torch.allclose(half[name], full[name] / 2)


def test_attack_raises_the_loss_after_a_few_steps() -> None:
    model = tiny([dict(type='AdversarialHardExample', eps=4 / 255)])
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    fixed = views(0, num=8)
    for _ in range(5):
        optim.zero_grad()
        losses = model.loss(fixed, None)
        model.parse_losses(losses)[0].backward()
        optim.step()
    assert model.loss(fixed, None)['adv_rise'] > 0


def test_advprop_norms_leave_the_backbone_layout_alone() -> None:
    model = tiny([dict(type='AdversarialHardExample', aux_norm=True)])
    plain_keys = set(tiny().state_dict())
    keys = set(model.state_dict())
    assert {k
            for k in keys if not k.startswith('hard_examples.')} == plain_keys
    # backbone (20 norms) and neck (none: MoCoV2Neck is linear layers)
    assert len(model.hard_examples[0].aux_norms) == 20
    losses = model.loss(views(0), None)
    model.parse_losses(losses)[0].backward()
    aux = model.hard_examples[0].aux_norms
    assert all(n.weight.grad is not None for n in aux)
    assert all(int(n.num_batches_tracked) == 1 for n in aux)
    assert int(model.backbone.bn1.num_batches_tracked) == 1  # clean pass


def test_bad_generator_fails_the_model_build() -> None:
    with pytest.raises(ConfigError, match='eps=0 must be in') as info:
        tiny([dict(type='AdversarialHardExample', eps=0)])
    assert '\n' not in str(info.value)
    with pytest.raises(ConfigError, match='not a hexa_mm BaseHardExample'):
        tiny([dict(type='mmpretrain.ResNet', depth=18)])
    with pytest.raises(ConfigError, match='must be unique'):
        tiny([dict(type='CutMixHardExample')] * 2)


@pytest.mark.parametrize(
    'path', sorted(glob.glob(str(REPO / 'configs/hexa_mocov2/*.py'))))
def test_configs_build_hexa_moco(path: str) -> None:
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert [type(g).__name__ for g in model.hard_examples
            ] == ['CutMixHardExample', 'AdversarialHardExample']
    adv = model.hard_examples[1]
    assert adv.eps == adv.step_size == pytest.approx(2 / 255)
    assert adv.steps == 1 and not adv.random_start and not adv.aux_norm


def _run_tool(path: str, args: list, monkeypatch: pytest.MonkeyPatch,
              capsys: pytest.CaptureFixture) -> str:
    """Run a script of ``tools/`` in this process; return what it printed."""
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(sys, 'argv', [path, *args])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(path, run_name='__main__')
    output = capsys.readouterr()
    assert info.value.code in (0, None), output.err[-3000:]
    return output.out


@pytest.mark.integration
def test_tools_picture_and_step_benchmark(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture) -> None:
    config = ('configs/hexa_mocov2/'
              'hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py')
    out = tmp_path / 'hard.png'
    printed = _run_tool(
        'tools/visualization/vis_hard_examples.py',
        [config, '--out',
         str(out), '--num', '2', '--batch', '8'], monkeypatch, capsys)
    assert f'written to {out}' in printed
    assert out.stat().st_size > 10_000
    table = _run_tool('tools/analysis/benchmark_hexa_step.py', [
        config, '--batch', '8', '--size', '16', '--repeats', '1', '--warmup',
        '0'
    ], monkeypatch, capsys)
    assert 'HEXA naive' in table and 'HEXA optimised' in table
