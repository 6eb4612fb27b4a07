"""The hard-example generators on a toy algorithm defined here.

The toy is a plain ``nn.Module`` that answers the pseudo-label interface
(``hard_view_loss``, ``logits``, ``encode``, ``classify``,
``pseudo_label_loss``, ``pixel_scale``) and nothing else, so these tests show
that the generators need only that.
"""
import copy
from typing import Dict, Tuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.models import (AdversarialHardExample, CleanPass,
                            CutMixHardExample, PseudoLabels, soft_cross_entropy)
from hexa_mm.models.utils import frozen_norm_stats
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError

register_all_modules()

MEAN, STD = 0.4, 0.3  # the toy's normalisation, in [0, 1] pixel units
NUM, CLASSES, SIZE = 8, 5, 8


class ToyAlgorithm(nn.Module):
    """A conv, a batch norm and a linear classifier over ``CLASSES`` labels."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(6, CLASSES)

    def encode(self, view: torch.Tensor) -> torch.Tensor:
        return self.backbone(view)

    def classify(self, embedding: torch.Tensor,
                 labels: PseudoLabels) -> torch.Tensor:
        return self.head(embedding)

    def logits(self, view: torch.Tensor,
               labels: PseudoLabels) -> torch.Tensor:
        return self.classify(self.encode(view), labels)

    def hard_view_loss(self, views, labels) -> torch.Tensor:
        embeddings = self.encode(torch.cat(views)).chunk(len(views))
        return sum(
            self.pseudo_label_loss(self.classify(e, lab), lab.probs)
            for e, lab in zip(embeddings, labels)) / len(views)

    def pseudo_label_loss(self, logits: torch.Tensor,
                          probs: torch.Tensor) -> torch.Tensor:
        return soft_cross_entropy(logits, probs)

    def pixel_scale(self) -> Tuple[torch.Tensor, torch.Tensor]:
        return (torch.full((1, 3, 1, 1), MEAN), torch.full((1, 3, 1, 1), STD))


def batch(seed: int = 0) -> Tuple[torch.Tensor, PseudoLabels]:
    """Normalised views of images in [0, 1], and one-hot labels."""
    gen = torch.Generator().manual_seed(seed)
    pixels = torch.rand(NUM, 3, SIZE, SIZE, generator=gen)
    classes = torch.randint(0, CLASSES, (NUM, ), generator=gen)
    return (pixels - MEAN) / STD, PseudoLabels(
        probs=F.one_hot(classes, CLASSES).float())


def clean_pass(algorithm: nn.Module, view: torch.Tensor,
               labels: PseudoLabels) -> CleanPass:
    """What ``PseudoLabelAlgorithm.loss`` hands a generator that reuses the
    clean pass: the views, embeddings and the clean loss's view gradient."""
    view = view.detach().requires_grad_(True)
    embedding = algorithm.encode(view)
    loss = algorithm.pseudo_label_loss(
        algorithm.classify(embedding, labels), labels.probs)
    grad, = torch.autograd.grad(loss, view)
    return CleanPass(
        views=[view.detach()], embeddings=[embedding.detach()], grads=[grad])


def trained_toy(
        steps: int = 30) -> Tuple[ToyAlgorithm, torch.Tensor, PseudoLabels]:
    """The toy fitted for a few steps to one batch."""
    toy = ToyAlgorithm()
    view, labels = batch()
    optim = torch.optim.SGD(toy.parameters(), lr=0.5)
    for _ in range(steps):
        optim.zero_grad()
        toy.pseudo_label_loss(toy.logits(view, labels),
                              labels.probs).backward()
        optim.step()
    optim.zero_grad(set_to_none=True)
    return toy, view, labels


def snapshot(module: nn.Module) -> Dict[str, torch.Tensor]:
    """Every parameter and buffer, and every ``.grad``."""
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    for name, param in module.named_parameters():
        state[f'{name}.grad'] = param.grad
    return state


def assert_unchanged(before: Dict[str, torch.Tensor],
                     after: Dict[str, torch.Tensor]) -> None:
    assert before.keys() == after.keys()
    for name, value in before.items():
        if name.endswith('.grad'):
            assert after[name] is None, name
        else:
            assert torch.equal(after[name], value), name


# ----------------------------------------------------------------------------
# Both generators on the toy.
# ----------------------------------------------------------------------------
@pytest.mark.parametrize('cfg', [
    dict(type='CutMixHardExample'),
    dict(type='AdversarialHardExample'),
    dict(
        type='AdversarialHardExample',
        steps=2,
        random_start=True,
        aux_norm=True),
])
def test_generators_serve_a_toy_algorithm(cfg: dict) -> None:
    toy = ToyAlgorithm()
    generator = MODELS.build(cfg)
    generator.check_algorithm(toy)
    view, labels = batch()
    views, hard_labels, scalars = generator(toy, clean_pass(toy, view, labels),
                                            [labels])
    assert len(views) == 1 and views[0].shape == view.shape
    assert not views[0].requires_grad
    assert len(hard_labels) == 1
    assert hard_labels[0].probs.shape == labels.probs.shape
    assert torch.allclose(hard_labels[0].probs.sum(1), torch.ones(NUM))
    assert all('loss' not in key for key in scalars)
    with generator.encoding(toy):
        loss = toy.hard_view_loss(views, hard_labels)
    loss.backward()  # the hard view trains the toy
    assert toy.head.weight.grad is not None


def test_algorithm_without_the_interface_is_refused() -> None:
    for generator in (CutMixHardExample(), AdversarialHardExample()):
        with pytest.raises(
                ConfigError,
                match='lacks hard_view_loss, pseudo_label_loss, '
                'logits, classify, encode, pixel_scale'):
            generator.check_algorithm(nn.Linear(2, 2))


@pytest.mark.parametrize('cfg, match', [
    (dict(type='AdversarialHardExample', eps=0), 'eps=0 must be in'),
    (dict(type='AdversarialHardExample', eps=-0.1), 'eps=-0.1 must be in'),
    (dict(type='AdversarialHardExample', eps=1.5), 'eps=1.5 must be in'),
    (dict(type='AdversarialHardExample', step_size=0), 'step_size=0 must'),
    (dict(type='AdversarialHardExample', steps=0), 'steps=0 must be'),
    (dict(type='AdversarialHardExample', steps=1.5), 'steps=1.5 must be'),
    (dict(type='CutMixHardExample', alpha=0), 'alpha=0 must be > 0'),
    (dict(type='CutMixHardExample', alpha=-1), 'alpha=-1 must be > 0'),
    (dict(type='CutMixHardExample', prob=0), r'prob=0 must be in \(0, 1\]'),
    (dict(type='CutMixHardExample', weight=-1), 'weight=-1 must be >= 0'),
])
def test_bad_fields(cfg: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        MODELS.build(cfg)
    assert '\n' not in str(info.value)


# ----------------------------------------------------------------------------
# CutMix.
# ----------------------------------------------------------------------------
def test_cutmix_lambda_is_the_share_left_and_targets_mix() -> None:
    torch.manual_seed(0)
    generator = CutMixHardExample(alpha=1.0)
    # image i is the constant i, so every pixel tells where it came from
    own = torch.arange(NUM, dtype=torch.float32).view(NUM, 1, 1, 1)
    views = [own.expand(NUM, 3, 32, 32).clone() for _ in range(2)]
    probs = F.one_hot(torch.arange(NUM), NUM).float()
    labels = PseudoLabels(probs=probs)
    for draw in range(20):
        torch.manual_seed(draw)
        np.random.seed(draw)
        batch_ = generator.mix(views)
        partner, lam = batch_.partner, batch_.lam
        assert sorted(partner.tolist()) == list(range(NUM))
        assert (partner != torch.arange(NUM)).all()
        for mixed in batch_.views:  # one box for every view of an image
            from_partner = (mixed == partner.view(NUM, 1, 1, 1).float())
            assert (from_partner | (mixed == own)).all()
            share = from_partner.float().mean(dim=(1, 2, 3))
            assert torch.allclose(share, 1 - lam, atol=1e-6)
        y1, y2, x1, x2 = batch_.boxes.t()
        area = ((y2 - y1) * (x2 - x1)).float() / (32 * 32)
        assert torch.allclose(1 - lam, area, atol=1e-6)
        # the same draw again, through forward: λ·own + (1 − λ)·partner's
        torch.manual_seed(draw)
        np.random.seed(draw)
        _, (hard, other), scalars = generator(None, CleanPass(views, []),
                                              [labels, labels])
        assert torch.equal(hard.probs, other.probs)
        assert torch.allclose(hard.probs.sum(1), torch.ones(NUM))
        rows = torch.arange(NUM)
        assert torch.allclose(hard.probs[rows, rows], lam)
        assert torch.allclose(hard.probs[rows, partner], 1 - lam)
        assert torch.allclose(scalars['cutmix_lam'], lam.mean())


def test_cutmix_targets_and_logged_lambda() -> None:
    torch.manual_seed(1)
    generator = CutMixHardExample()
    view, labels = batch()
    views, (hard, ), scalars = generator(None, CleanPass([view], []),
                                         [labels])
    # recover λ from the pixels: the share of each image that is its own
    own = (views[0] == view).all(dim=1).float().mean(dim=(1, 2))
    partner_of = {}
    for i in range(NUM):
        if own[i] < 1:
            changed = (views[0][i] != view[i]).any(dim=0)
            matches = [(views[0][i][:, changed] == view[j][:, changed]).all()
                       for j in range(NUM)]
            partner_of[i] = matches.index(True)
    expected = own.view(-1, 1) * labels.probs + torch.stack([
        (1 - own[i]) * labels.probs[partner_of.get(i, i)] for i in range(NUM)
    ])
    assert torch.allclose(hard.probs, expected, atol=1e-6)
    assert torch.allclose(scalars['cutmix_lam'], own.mean(), atol=1e-6)


def test_cutmix_prob_leaves_images_unmixed() -> None:
    torch.manual_seed(0)
    generator = CutMixHardExample(prob=0.5)
    lams = torch.cat(
        [generator.mix([torch.randn(64, 3, 8, 8)]).lam for _ in range(5)])
    assert 0.3 < (lams == 1).float().mean() < 0.7


def test_cutmix_needs_a_partner() -> None:
    with pytest.raises(ValueError, match='at least 2 images'):
        CutMixHardExample().mix([torch.randn(1, 3, 8, 8)])


# ----------------------------------------------------------------------------
# Adversarial.
# ----------------------------------------------------------------------------
@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(eps=8 / 255, step_size=3 / 255, steps=4, random_start=True),
    dict(eps=0.5, steps=2),
])
def test_adversarial_stays_in_the_ball_and_the_pixel_range(
        kwargs: dict) -> None:
    toy, view, labels = trained_toy()
    generator = AdversarialHardExample(**kwargs)
    views, _, _ = generator(toy, clean_pass(toy, view, labels), [labels])
    clean_px = view * STD + MEAN
    adv_px = views[0] * STD + MEAN
    eps = generator.eps
    assert (adv_px - clean_px).abs().max() <= eps + 1e-6
    assert adv_px.min() >= -1e-6 and adv_px.max() <= 1 + 1e-6
    if not kwargs.get('random_start'):
        # a full step on every pixel the range does not clip
        moved = (adv_px - clean_px).abs()
        free = (clean_px > eps) & (clean_px < 1 - eps)
        assert torch.allclose(
            moved[free],
            torch.full_like(moved[free], min(eps, generator.step_size)),
            atol=1e-5)


def test_adversarial_raises_the_loss_of_a_trained_model() -> None:
    toy, view, labels = trained_toy()
    generator = AdversarialHardExample()
    views, _, _ = generator(toy, clean_pass(toy, view, labels), [labels])
    with torch.no_grad(), frozen_norm_stats(toy):
        clean = toy.pseudo_label_loss(toy.logits(view, labels), labels.probs)
        hard = toy.pseudo_label_loss(
            toy.logits(views[0], labels), labels.probs)
    assert hard > clean


@pytest.mark.parametrize('kwargs', [
    dict(),
    dict(reuse_clean_pass=False, steps=3),
    dict(random_start=True, steps=2),
    dict(aux_norm=True, steps=2),
])
def test_attack_changes_no_parameter_buffer_or_grad(kwargs: dict) -> None:
    toy, view, labels = trained_toy()
    generator = AdversarialHardExample(**kwargs)
    generator.check_algorithm(toy)
    clean = clean_pass(toy, view, labels)  # this one may update statistics
    before = snapshot(toy)
    generator_before = snapshot(generator)
    generator(toy, clean, [labels])
    assert_unchanged(before, snapshot(toy))
    assert_unchanged(generator_before, snapshot(generator))
    assert all(m.track_running_stats for m in toy.modules()
               if isinstance(m, nn.BatchNorm2d))


def test_first_gradient_from_the_clean_pass_equals_a_fresh_one() -> None:
    toy, view, labels = trained_toy()
    toy.double()
    view = view.double()
    labels = labels.with_probs(labels.probs.double())
    optimised = AdversarialHardExample(steps=2)
    naive = AdversarialHardExample(steps=2, reuse_clean_pass=False)
    assert optimised.needs_clean_grads and not naive.needs_clean_grads
    fast = optimised(toy, clean_pass(toy, view, labels), [labels])[0][0]
    slow = naive(toy, CleanPass([view], []), [labels])[0][0]
    assert torch.allclose(fast, slow, rtol=0, atol=1e-9)


def test_random_start_or_aux_norm_make_their_own_first_pass() -> None:
    assert AdversarialHardExample().needs_clean_grads
    assert not AdversarialHardExample(random_start=True).needs_clean_grads
    assert not AdversarialHardExample(aux_norm=True).needs_clean_grads


def test_aux_norm_swaps_in_its_own_batch_norms() -> None:
    toy = ToyAlgorithm()
    generator = AdversarialHardExample(aux_norm=True)
    generator.check_algorithm(toy)
    assert len(generator.aux_norms) == 1
    main = toy.backbone[1]
    main_state = copy.deepcopy(main.state_dict())
    aux = generator.aux_norms[0]
    view, _ = batch()
    with generator.encoding(toy):
        toy.encode(view * 3 + 1).sum().backward()
    # the auxiliary norm learned and tracked; the main one did not move
    assert aux.num_batches_tracked == 1 and aux.weight.grad is not None
    assert main.weight.grad is None
    for key, value in main_state.items():
        assert torch.equal(main.state_dict()[key], value), key
    assert main.weight is not aux.weight  # swapped back
    assert 'aux_norms.0.running_mean' in generator.state_dict()


class _NoNorm(ToyAlgorithm):
    """The toy without its batch norm."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone[1] = nn.Identity()


def test_aux_norm_needs_batch_norms() -> None:
    with pytest.raises(ConfigError, match='found none'):
        AdversarialHardExample(aux_norm=True).check_algorithm(_NoNorm())
