"""Multi-crop DeepCluster-v2 as the reference computes it (SwAV's code base,
``main_deepclusterv2.py``), restated here from its definition:

* a training step runs the backbone once per run of crops of one resolution
  and the projection head (with its BatchNorm1d) once over the pooled
  features of all crops concatenated; the loss is the cross-entropy of every
  crop's prototype scores / T against the image's assignment, averaged over
  the prototype sets;
* the fill pass before training (``init_memory``) runs one forward per
  assignment crop;
* an attack must climb the loss that is trained on the hard views, with the
  same batch-norm grouping;
* the logged ``*_rise`` is 0 when a generator returns the clean views.
"""
from itertools import groupby
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.models import (AdversarialHardExample, BaseHardExample,
                            PseudoLabels)
from hexa_mm.registry import MODELS
from hexa_mm.testing import samples, tiny_deepcluster
from hexa_mm.testing.tiny_models import (DIGITS_MEAN, DIGITS_STD, FEAT_DIM,
                                         PROTOTYPES)

register_all_modules()

TEMPERATURE = 0.1
NUM = 4
MEAN, STD = DIGITS_MEAN, DIGITS_STD


def tiny(hard_examples=None) -> nn.Module:
    """:func:`hexa_mm.testing.tiny_deepcluster` in float64."""
    return tiny_deepcluster(hard_examples=hard_examples or []).double()


def crops(sizes=(32, 32, 16, 16), seed: int = 0) -> List[torch.Tensor]:
    """Normalised random images, one batch per crop size."""
    gen = torch.Generator().manual_seed(seed)
    return [(torch.rand(NUM, 3, s, s, generator=gen, dtype=torch.float64) *
             255 - MEAN) / STD for s in sizes]


def reference_embeddings(model: nn.Module,
                         views: List[torch.Tensor]) -> torch.Tensor:
    """SwAV's ``forward``: backbone per resolution run, pooled; the head once
    over everything (Linear, BN1d, ReLU, Linear), then L2 normalisation."""
    pooled, start = [], 0
    for _, run in groupby(v.shape[-1] for v in views):
        end = start + len(list(run))
        out = model.backbone(torch.cat(views[start:end]))[-1]
        pooled.append(out.mean(dim=(2, 3)))
        start = end
    neck = model.neck
    hidden = F.relu(neck.bn0(neck.fc0(torch.cat(pooled))))
    return F.normalize(neck.fc1(hidden), dim=1)


def reference_loss(model: nn.Module, views: List[torch.Tensor],
                   ids: List[int]) -> torch.Tensor:
    """``main_deepclusterv2.py``'s loss: for each prototype set, the
    cross-entropy of all crops' scores / T against the image's assignment
    (repeated for every crop), averaged over the sets."""
    embeddings = reference_embeddings(model, views)
    loss = 0
    start = 0
    for h, k in enumerate(PROTOTYPES):
        scores = embeddings @ model.prototypes[start:start + k].t()
        targets = model.assignments[h][ids].repeat(len(views))
        loss = loss + F.cross_entropy(scores / TEMPERATURE, targets)
        start += k
    return loss / len(PROTOTYPES)


def test_multicrop_step_equals_the_reference() -> None:
    model = tiny()
    views, ids = crops(), [7, 2, 9, 0]
    ours = model.loss(views, samples(ids))['loss_clean']
    grads = torch.autograd.grad(ours, list(model.parameters()),
                                allow_unused=True)
    expected = reference_loss(model, views, ids)
    ref_grads = torch.autograd.grad(expected, list(model.parameters()),
                                    allow_unused=True)
    assert torch.allclose(ours, expected, rtol=0, atol=1e-12)
    for (name, _), got, want in zip(model.named_parameters(), grads,
                                    ref_grads):
        assert (got is None) == (want is None), name
        if got is not None:
            assert torch.allclose(got, want, rtol=0, atol=1e-10), name


def test_memory_bank_gets_the_steps_own_assignment_crop_embeddings() -> None:
    model = tiny()
    views, ids = crops(), [7, 2, 9, 0]
    with torch.no_grad():
        expected = reference_embeddings(model, views)[:2 * NUM]
    model.loss(views, samples(ids))
    bank = model.memory_bank
    rows = [bank.index.tolist().index(i) for i in ids]
    assert torch.allclose(bank.embeddings[:, rows].reshape(-1, FEAT_DIM),
                          expected.float(), rtol=0, atol=1e-6)


def test_fill_pass_runs_one_forward_per_assignment_crop() -> None:
    model = tiny()
    views, ids = crops(), [3, 1, 4, 5]
    model.train()
    with torch.no_grad():
        expected = [reference_embeddings(model, [views[c]]) for c in (0, 1)]
        model.fill_memory_bank(views, samples(ids))
    bank = model.memory_bank
    rows = [bank.index.tolist().index(i) for i in ids]
    for crop in (0, 1):
        assert torch.allclose(bank.embeddings[crop, rows],
                              expected[crop].float(), rtol=0, atol=1e-6)


def _free(view: torch.Tensor, eps: float) -> torch.Tensor:
    """Pixels a step of ``eps`` in either direction leaves in [0, 1]."""
    pixels = (view * STD + MEAN) / 255
    return (pixels > eps + 1e-9) & (pixels < 1 - eps - 1e-9)


def test_attack_climbs_the_trained_hard_view_loss() -> None:
    """Both assignment crops attacked in one batch, as they are trained: a
    naive step is eps * sign of the trained loss's input gradient, and the
    gradient of any later step (or a random start) is that loss's too."""
    eps = 2 / 255
    model = tiny()
    views, ids = crops(), [7, 2, 9, 0]
    labels = model.view_labels(views, samples(ids))
    _, clean = model.clean_pass(views, labels, with_grads=False)

    def trained_grads(points: List[torch.Tensor]) -> Tuple[torch.Tensor]:
        # the two 32 px crops through backbone and head together
        leaves = [p.detach().requires_grad_(True) for p in points]
        return torch.autograd.grad(reference_loss(model, leaves, ids), leaves)

    attack = AdversarialHardExample(eps=eps, reuse_clean_pass=False)
    attack.check_algorithm(model)
    hard, _, _ = attack(model, clean, labels)
    for view, adv, grad in zip(clean.views, hard, trained_grads(clean.views)):
        free = _free(view, eps)
        step = (adv - view) * STD / 255
        assert torch.allclose(step[free], grad.sign()[free] * eps, atol=1e-9)
    gen = torch.Generator().manual_seed(3)
    moved = [v + torch.rand(v.shape, generator=gen, dtype=v.dtype) * 0.05
             for v in clean.views]
    for got, want in zip(attack._input_grads(model, moved, labels),
                         trained_grads(moved)):
        assert torch.allclose(got, want, rtol=0, atol=1e-12)


class Unchanged(BaseHardExample):
    """Hands the clean views back: nothing is harder."""

    def forward(self, algorithm: nn.Module, clean, labels):
        return list(clean.views), list(labels), {}


class UnchangedOnItsOwnNorms(AdversarialHardExample):
    """The clean views, encoded with AdvProp norms that differ from the
    main ones."""

    def forward(self, algorithm: nn.Module, clean, labels):
        return list(clean.views), list(labels), {}


def _rise(model: nn.Module, views: List[torch.Tensor]) -> Tuple[float, ...]:
    losses = model.loss(views, samples([7, 2, 9, 0]))
    return tuple(
        float(v) for k, v in sorted(losses.items()) if k.endswith('_rise'))


def test_rise_is_zero_for_unchanged_views() -> None:
    MODELS.register_module(module=Unchanged, force=True)
    MODELS.register_module(module=UnchangedOnItsOwnNorms, force=True)
    model = tiny([
        dict(type='Unchanged', name='same'),
        dict(type='UnchangedOnItsOwnNorms', aux_norm=True, name='aux'),
        dict(type='Unchanged', name='first', view_indices=(0, )),
    ])
    with torch.no_grad():
        for norm in model.hard_examples[1].aux_norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
    # multi-crop: the clean pass has the small crops in the head's batch
    assert _rise(model, crops()) == (0.0, 0.0, 0.0)
    # two crops only: the clean pass's embeddings are reused
    assert _rise(model, crops((32, 32))) == (0.0, 0.0, 0.0)


def test_view_indices_make_only_those_views_hard() -> None:
    model = tiny([dict(type='CutMixHardExample', view_indices=(1, ))])
    views, ids = crops(), [7, 2, 9, 0]
    labels = model.view_labels(views, samples(ids))
    _, clean = model.clean_pass(views, labels, with_grads=False)
    picked, picked_labels = model.hard_examples[0].pick(clean, labels)
    assert len(picked.views) == 1 and picked.views[0] is clean.views[1]
    assert picked_labels == [labels[1]]
    assert not picked.alone


def test_pseudo_labels_must_fit_the_source_views() -> None:
    model = tiny()

    def two_lists(inputs, data_samples) -> List[PseudoLabels]:
        return [PseudoLabels(torch.ones(NUM, 1))] * 3

    model.pseudo_labels = two_lists
    try:
        model.view_labels(crops(), samples([1, 2, 3, 4]))
    except ValueError as err:
        assert 'gave 3 PseudoLabels for 2 source views' in str(err)
    else:
        raise AssertionError('3 label sets for 2 source views accepted')
