"""DeepCluster-v2 against its definition (arXiv 2006.09882, the reference
``main_deepclusterv2.py``)."""

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.models.utils import PseudoLabels
from hexa_mm.testing import deepcluster_cfg, samples, tiny_deepcluster
from hexa_mm.testing.tiny_models import FEAT_DIM, PROTOTYPES
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError

register_all_modules()

TEMPERATURE = 0.1


def unclustered(**overrides) -> nn.Module:
    """A tiny DeepClusterV2 before its first clustering (no bank, no
    assignments)."""
    torch.manual_seed(0)
    return MODELS.build(deepcluster_cfg(**overrides))


def clusters(model: nn.Module) -> tuple:
    """The centroids (one tensor per set) and assignments a model holds."""
    return [c.clone() for c in model.prototypes.split(PROTOTYPES)], \
        model.assignments.clone()


def test_loss_follows_the_definition() -> None:
    model = tiny_deepcluster()
    centroids, assignments = clusters(model)
    # eval mode: batch norm does not depend on how views are batched
    model.eval()
    ids = [7, 2, 9, 0]
    views = [torch.randn(4, 3, 32, 32) for _ in range(2)] + \
        [torch.randn(4, 3, 16, 16) for _ in range(3)]

    losses = model.loss(views, samples(ids))

    # the reference: for each set, CE(scores / T, assignment) over all crops
    # (targets repeated per crop), then the mean over the sets
    with torch.no_grad():
        emb = [
            F.normalize(model.neck(model.backbone(v))[0], dim=1) for v in views
        ]
    expected = sum(
        F.cross_entropy(
            torch.cat(emb) @ c.t() /
            TEMPERATURE, assignments[h, ids].repeat(len(views)))
        for h, c in enumerate(centroids)) / len(PROTOTYPES)
    assert set(losses) == {'loss_clean'}
    assert torch.allclose(losses['loss_clean'], expected, rtol=0, atol=1e-5)
    # the step wrote the embeddings of crops 0 and 1 into the bank
    bank = model.memory_bank
    assert sorted(bank.index.tolist()) == sorted(ids)
    order = [bank.index.tolist().index(i) for i in ids]
    for crop in range(2):
        assert torch.allclose(
            bank.embeddings[crop, order], emb[crop], atol=1e-6)


def test_prototypes_are_a_buffer_never_trained() -> None:
    model = tiny_deepcluster()
    centroids, _ = clusters(model)
    assert 'prototypes' not in dict(model.named_parameters())
    assert 'prototypes' in model.state_dict()
    views = [torch.randn(4, 3, 32, 32) for _ in range(2)]
    model.loss(views, samples([1, 2, 3, 4]))['loss_clean'].backward()
    assert torch.equal(model.prototypes, torch.cat(centroids))
    assert any(p.grad is not None for p in model.backbone.parameters())


def test_pseudo_labels_and_label_space() -> None:
    model = tiny_deepcluster()
    _, assignments = clusters(model)
    views = [torch.randn(3, 3, 32, 32) for _ in range(2)]
    labels = model.pseudo_labels(views, samples([4, 0, 6]))
    assert labels.probs.shape == (3, sum(PROTOTYPES))
    assert torch.allclose(labels.probs.sum(dim=1), torch.ones(3))
    for h, segment in enumerate(labels.probs.split(PROTOTYPES, dim=1)):
        assert torch.equal(segment.argmax(dim=1), assignments[h, [4, 0, 6]])
        assert torch.allclose(
            segment.sum(dim=1), torch.full((3, ), 1 / len(PROTOTYPES)))
    assert labels.context['sample_idx'].tolist() == [4, 0, 6]
    # a mixed target (as CutMix makes) is a mixture per set
    model.eval()
    logits = model.logits(views[0], labels)
    assert logits.shape == labels.probs.shape
    mixed = labels.with_probs(0.3 * labels.probs +
                              0.7 * labels.probs.roll(1, dims=0))
    loss = model.pseudo_label_loss(logits, mixed.probs)
    expected = 0.3 * model.pseudo_label_loss(logits, labels.probs) + \
        0.7 * model.pseudo_label_loss(logits, labels.probs.roll(1, dims=0))
    assert torch.allclose(loss, expected, atol=1e-6)


def test_views_multi_crop() -> None:
    model = unclustered(assign_crops=[1, 0])
    views = [torch.full((1, ), float(i)) for i in range(5)]
    assert [int(v) for v in model.source_views(views)] == [1, 0]
    assert [int(v) for v in model.extra_views(views)] == [2, 3, 4]


def test_clear_errors() -> None:
    with pytest.raises(ConfigError, match='assign_crops'):
        unclustered(assign_crops=[0, 0])
    with pytest.raises(ConfigError, match='num_prototypes'):
        unclustered(num_prototypes=[3, 0])
    with pytest.raises(ConfigError, match='temperature'):
        unclustered(temperature=0)
    model = unclustered()
    views = [torch.randn(2, 3, 32, 32) for _ in range(2)]
    with pytest.raises(ConfigError, match='DeepClusterHook'):
        model.loss(views, samples([0, 1]))
    with pytest.raises(ConfigError, match='at most one cluster per sample'):
        model.check_train_setup(64, 4)
    model.check_train_setup(64, 5)
    model = tiny_deepcluster()
    with pytest.raises(ConfigError, match='sample_idx'):
        model.loss(views, [DataSample(), DataSample()])
    with pytest.raises(ConfigError, match='gives 1 views'):
        model.loss(views[:1], samples([0, 1]))
    with pytest.raises(ConfigError, match='cover 10 samples'):
        model.loss(views, samples([0, 10]))
    model.set_clusters(
        model.prototypes.split(PROTOTYPES),
        torch.full((len(PROTOTYPES), 10), -1, dtype=torch.long))
    with pytest.raises(
            RuntimeError, match=r'samples \[0, 1\] have no cluster'):
        model.loss(views, samples([0, 1]))


def test_hard_examples_see_only_the_interface() -> None:
    # the hard-example path: classify over the same label space and the
    # per-set loss; targets come from pseudo_labels alone
    model = tiny_deepcluster()
    labels = model.pseudo_labels([], samples([1, 2]))
    assert isinstance(labels, PseudoLabels)
    embedding = F.normalize(torch.randn(2, FEAT_DIM), dim=1)
    logits = model.classify(embedding, labels)
    assert torch.allclose(logits,
                          embedding @ model.prototypes.t() / TEMPERATURE)
