"""Weighted kNN (InstDisc) and few-shot nearest-class-mean."""
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from hexa_mm.evaluation import (FewShotAccuracy, KNNAccuracy,
                                few_shot_accuracy, knn_accuracy, knn_predict)


def test_knn_predict_matches_the_definition() -> None:
    torch.manual_seed(0)
    bank, queries = torch.randn(30, 5), torch.randn(7, 5)
    labels = torch.randint(0, 3, (30, ))
    k, t = 4, 0.1
    got = knn_predict(bank, labels, queries, 3, k=k, temperature=t, chunk=3)
    bank_n, q_n = F.normalize(bank, dim=1), F.normalize(queries, dim=1)
    for i in range(7):
        sims = [(float(q_n[i] @ bank_n[j]), j) for j in range(30)]
        top = sorted(sims, reverse=True)[:k]
        expected = [0.0] * 3
        for s, j in top:
            expected[int(labels[j])] += math.exp(s / t)
        assert torch.allclose(got[i], torch.tensor(expected), rtol=1e-4)


def test_knn_accuracy_and_k_capped_at_the_bank() -> None:
    centres = torch.eye(4) * 5
    bank = centres.repeat_interleave(3, 0) + 0.1 * torch.randn(12, 4)
    labels = torch.arange(4).repeat_interleave(3)
    queries = centres + 0.1 * torch.randn(4, 4)
    assert knn_accuracy((bank, labels), (queries, torch.arange(4)), k=3) == 100
    # k larger than the bank: every neighbour votes, nearest weigh most
    assert knn_accuracy((bank, labels), (queries, torch.arange(4)),
                        k=200,
                        temperature=0.07) == 100
    assert knn_accuracy((bank, labels), (queries, torch.tensor([1, 0, 3, 2])),
                        k=3) == 0


def test_few_shot_on_separable_and_on_random_features() -> None:
    torch.manual_seed(0)
    centres = torch.randn(5, 16) * 4
    train_labels = torch.arange(5).repeat(20)
    train = centres[train_labels] + torch.randn(100, 16)
    query_labels = torch.arange(5).repeat(10)
    queries = centres[query_labels] + torch.randn(50, 16)
    assert few_shot_accuracy((train, train_labels), (queries, query_labels),
                             shots=5,
                             draws=3) == 100
    noise = few_shot_accuracy((torch.randn(100, 16), train_labels),
                              (torch.randn(50, 16), query_labels),
                              shots=5,
                              draws=20)
    assert noise < 50


def test_metric_splits_bank_and_queries() -> None:
    metric = KNNAccuracy(k=3)
    samples = []
    for i, (feat, label, bank) in enumerate([([1., 0.], 0, True),
                                             ([0.9, 0.1], 0, True),
                                             ([0., 1.], 1, True),
                                             ([0.1, 0.9], 1, True),
                                             ([0.95, 0.], 0, False),
                                             ([0., 0.95], 0, False)]):
        sample = DataSample().set_gt_label(label)
        sample.set_metainfo(dict(knn_bank=bank))
        sample.set_field(torch.tensor(feat), 'feature', field_type='data')
        samples.append(sample.to_dict())
    metric.process(None, samples)
    assert metric.compute_metrics(metric.results) == dict(top1=50.0)


def test_few_shot_metric_draws_prototypes_from_the_bank_only() -> None:
    # bank: class 0 along x, class 1 along y; the queries sit on the other
    # class's axis, so prototypes drawn from the queries would invert them
    rows = [([1., 0.], 0, True), ([0.9, 0.1], 0, True), ([0., 1.], 1, True),
            ([0.1, 0.9], 1, True), ([0., 1.], 0, False),
            ([1., 0.], 1, False), ([0.8, 0.2], 0, False)]
    samples = []
    for feat, label, bank in rows:
        sample = DataSample().set_gt_label(label)
        sample.set_metainfo(dict(knn_bank=bank))
        sample.set_field(torch.tensor(feat), 'feature', field_type='data')
        samples.append(sample.to_dict())
    metric = FewShotAccuracy(shots=1, draws=4)
    metric.process(None, samples)
    got = metric.compute_metrics(metric.results)
    assert list(got) == ['1-shot']
    assert got['1-shot'] == pytest.approx(100 / 3)
