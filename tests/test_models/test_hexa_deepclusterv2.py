"""HEXA_DCluster: DeepCluster-v2 with hard views of the assignment crops."""
import copy
import glob
import os.path as osp
from pathlib import Path
from typing import List

import pytest
import torch
from mmengine.config import Config

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS, RUNNERS
from hexa_mm.testing import deepcluster_cfg, samples, tiny_deepcluster
from hexa_mm.testing.tiny_models import PROTOTYPES

register_all_modules()

REPO = Path(__file__).resolve().parents[2]
NUM_SAMPLES = 24
GENERATORS = [
    dict(type='CutMixHardExample'),
    dict(type='AdversarialHardExample')
]


def views(seed: int = 0) -> List[torch.Tensor]:
    """Multi-crop views of random images (normalised): 2 x 16 px, 2 x 8 px."""
    gen = torch.Generator().manual_seed(seed)
    return [(torch.rand(4, 3, size, size, generator=gen) * 255 - 78.85) / 88.94
            for size in (16, 16, 8, 8)]


def test_clean_term_and_bank_are_deepcluster_v2s() -> None:
    plain = tiny_deepcluster().double()
    hexa = tiny_deepcluster(hard_examples=copy.deepcopy(GENERATORS)).double()
    batch = [v.double() for v in views()]
    ids = [7, 2, 9, 0]
    a = plain.loss(batch, samples(ids))
    b = hexa.loss(batch, samples(ids))
    assert set(b) == {
        'loss_clean', 'loss_cutmix', 'cutmix_rise', 'cutmix_lam', 'loss_adv',
        'adv_rise'
    }
    assert torch.allclose(b['loss_clean'], a['loss_clean'], rtol=0, atol=1e-12)
    # the bank holds the clean assignment crops' embeddings only
    for name in ('index', 'embeddings', 'stamps'):
        assert torch.equal(
            getattr(hexa.memory_bank, name), getattr(plain.memory_bank,
                                                     name)), name
    a['loss_clean'].backward()
    b['loss_clean'].backward(retain_graph=True)
    for (name, p), q in zip(plain.named_parameters(), hexa.parameters()):
        if p.grad is not None:
            assert torch.allclose(q.grad, p.grad, rtol=0, atol=1e-12), name
    hexa.zero_grad()
    hexa.parse_losses(b)[0].backward()
    assert 'prototypes' not in dict(hexa.named_parameters())


def test_hard_views_of_the_assignment_crops_with_their_targets() -> None:
    model = tiny_deepcluster(hard_examples=copy.deepcopy(GENERATORS))
    batch = views()
    labels = model.view_labels(batch, samples([1, 2, 3, 4]))
    _, clean = model.clean_pass(batch, labels, with_grads=True)
    assert len(clean.views) == 2 and len(clean.grads) == 2
    assert all(v.shape[-1] == 16 for v in clean.views)
    cutmix, adv = model.hard_examples
    mixed, mixed_labels, _ = cutmix(model, clean, labels)
    assert len(mixed) == len(mixed_labels) == 2
    assert torch.equal(mixed_labels[0].probs, mixed_labels[1].probs)
    assert torch.allclose(mixed_labels[0].probs.sum(1), torch.ones(4))
    for segment in mixed_labels[0].probs.split(PROTOTYPES, dim=1):
        assert torch.allclose(
            segment.sum(1), torch.full((4, ), 1 / len(PROTOTYPES)))
    attacked, adv_labels, _ = adv(model, clean, labels)
    assert len(attacked) == 2
    assert all(torch.equal(a.probs, b.probs)
               for a, b in zip(adv_labels, labels))
    _, std = model.pixel_scale()
    for hard, source in zip(attacked, clean.views):
        assert ((hard - source) * std).abs().max() <= adv.eps + 1e-6


@pytest.mark.parametrize(
    'path', sorted(glob.glob(str(REPO / 'configs/hexa_deepclusterv2/*.py'))))
def test_configs_build_hexa_dcluster(path: str) -> None:
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'DeepClusterV2'
    assert [type(g).__name__ for g in model.hard_examples
            ] == ['CutMixHardExample', 'AdversarialHardExample']
    hooks = [h['type'] for h in cfg.custom_hooks]
    # the digits16 recipe ramps the hard-example losses in (as HEXA_MoCo's)
    warmup = ['HardExampleWarmupHook'] if 'digits16' in path else []
    assert hooks == ['DeepClusterHook'] + warmup


# deterministic views, so that a resumed run can repeat the uninterrupted one
PIPELINE = [
    dict(
        type='MultiView',
        num_views=[1, 1],
        transforms=[[],
                    [dict(type='RandomFlip', prob=1., direction='vertical')]]),
    dict(type='PackInputs')
]


def runner_cfg(work_dir: Path, **overrides) -> dict:
    """2 epochs of a tiny HEXA_DCluster (attack with AdvProp norms: state
    in the generator) on a few digits, checkpoint every epoch."""
    model = deepcluster_cfg(
        num_prototypes=[4, 3],
        hard_examples=[dict(type='AdversarialHardExample', aux_norm=True)])
    cfg = dict(
        runner_type='HexaRunner',
        default_scope='hexa_mm',
        work_dir=str(work_dir),
        experiment_name=work_dir.name,
        model=model,
        train_dataloader=dict(
            dataset=dict(
                type='Digits',
                img_size=16,
                indices=NUM_SAMPLES,
                pipeline=PIPELINE),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=8,
            num_workers=0,
            drop_last=True),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        custom_hooks=[dict(type='DeepClusterHook', num_iters=3)],
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0))
    cfg.update(overrides)
    return cfg


@pytest.mark.integration
def test_resume_continues_as_uninterrupted(tmp_path: Path) -> None:
    first = RUNNERS.build(runner_cfg(tmp_path / 'uninterrupted'))
    first.train()
    checkpoint = osp.join(first.work_dir, 'epoch_1.pth')
    assert any('aux_norms' in key
               for key in torch.load(checkpoint)['state_dict'])
    resumed = RUNNERS.build(
        runner_cfg(tmp_path / 'resumed', load_from=checkpoint, resume=True))
    resumed.train()
    assert resumed.iter == first.iter == 6
    expected, state = first.model.state_dict(), resumed.model.state_dict()
    assert state.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.allclose(state[name], value, rtol=0, atol=1e-6), name
    assert torch.equal(resumed.model.assignments, first.model.assignments)
    losses = resumed.message_hub.log_scalars
    assert len(losses['train/loss_adv'].data[0]) == 6
