"""Representation-quality measures on extracted features."""
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

#: Labelled features: features (N, D) and their class indices (N, ), as
#: :func:`~hexa_mm.evaluation.extract_features` returns them.
LABELLED = Tuple[torch.Tensor, torch.Tensor]


def knn_predict(bank: torch.Tensor,
                bank_labels: torch.Tensor,
                queries: torch.Tensor,
                num_classes: int,
                k: int = 200,
                temperature: float = 0.07,
                chunk: int = 1024) -> torch.Tensor:
    """Weighted kNN class scores (Wu et al. 2018, InstDisc).

    Each query takes its ``k`` most cosine-similar bank features; neighbour
    ``j`` votes for its class with weight ``exp(s_j / temperature)``.

    Args:
        bank (torch.Tensor): Bank features, (M, D).
        bank_labels (torch.Tensor): Bank class indices, (M, ).
        queries (torch.Tensor): Query features, (N, D).
        num_classes (int): Number of classes.
        k (int): Neighbours; capped at the bank size. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        chunk (int): Queries scored at a time. Defaults to 1024.

    Returns:
        torch.Tensor: Class scores, (N, num_classes).
    """
    bank = F.normalize(bank.float(), dim=1)
    queries = F.normalize(queries.float(), dim=1)
    k = min(k, bank.shape[0])
    scores = []
    for part in queries.split(chunk):
        sim, idx = (part @ bank.t()).topk(k, dim=1)
        weights = (sim / temperature).exp()
        votes = F.one_hot(bank_labels[idx], num_classes).float()
        scores.append((votes * weights.unsqueeze(-1)).sum(dim=1))
    return torch.cat(scores)


def knn_accuracy(bank: LABELLED,
                 queries: LABELLED,
                 k: int = 200,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None) -> float:
    """Top-1 accuracy (%) of :func:`knn_predict`.

    Args:
        bank (tuple[torch.Tensor, torch.Tensor]): The labelled bank:
            features (M, D) and class indices (M, ).
        queries (tuple[torch.Tensor, torch.Tensor]): The queries and their
            true class indices, (N, D) and (N, ).
        k (int): Neighbours. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        num_classes (int, optional): Defaults to the largest label + 1.

    Returns:
        float: Accuracy in percent.
    """
    bank_features, bank_labels = bank
    query_features, query_labels = queries
    if num_classes is None:
        num_classes = int(max(bank_labels.max(), query_labels.max())) + 1
    pred = knn_predict(bank_features, bank_labels, query_features, num_classes,
                       k, temperature).argmax(dim=1)
    return (pred == query_labels).float().mean().item() * 100


def few_shot_accuracy(train: LABELLED,
                      queries: LABELLED,
                      shots: int = 5,
                      draws: int = 20,
                      seed: int = 0) -> float:
    """Nearest-class-mean accuracy (%) with ``shots`` labels per class.

    For each of ``draws`` seeded draws, ``shots`` labelled images per class
    are taken from ``train``; their mean unit feature is the class prototype
    and each query takes the class of the most cosine-similar prototype
    (:func:`knn_accuracy` with ``k=1`` over the prototypes).

    Args:
        train (tuple[torch.Tensor, torch.Tensor]): The labelled features
            the shots are drawn from, (M, D) and (M, ).
        queries (tuple[torch.Tensor, torch.Tensor]): The queries and their
            true class indices, (N, D) and (N, ).
        shots (int): Labels per class. Defaults to 5.
        draws (int): Number of seeded draws averaged. Defaults to 20.
        seed (int): Seed of the first draw. Defaults to 0.

    Returns:
        float: Mean accuracy over the draws, in percent.
    """
    features, labels = train
    features = F.normalize(features.float(), dim=1)
    classes = torch.unique(labels)
    accs = []
    for draw in range(draws):
        gen = torch.Generator().manual_seed(seed + draw)
        prototypes = []
        for c in classes:
            members = torch.nonzero(labels == c).flatten()
            pick = members[torch.randperm(len(members), generator=gen)[:shots]]
            prototypes.append(features[pick].mean(dim=0))
        accs.append(
            knn_accuracy((torch.stack(prototypes), classes), queries, k=1))
    return sum(accs) / len(accs)
