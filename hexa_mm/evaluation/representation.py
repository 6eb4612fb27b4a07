"""kNN and few-shot quality of one representation, from a loader."""
from typing import Dict, Optional

from torch import nn

from .extract import extract_features
from .functional import few_shot_accuracy, knn_accuracy


def measure_representation(model: nn.Module,
                           loader,
                           pixels: bool = False,
                           knn: Optional[dict] = None,
                           shots: int = 5,
                           draws: int = 20,
                           seed: int = 0,
                           progress: bool = False) -> Dict[str, float]:
    """kNN top-1 (all labels) and few-shot accuracy of one representation.

    The loader yields a ``KNNDataset``: its ``bank`` (the labelled images)
    first, then its queries; the bank serves both the kNN and the draws of
    the few-shot prototypes.

    Args:
        model (nn.Module): A hexa_mm algorithm (its preprocessor is always
            used).
        loader (DataLoader): Loader of a ``KNNDataset``, not shuffled.
        pixels (bool): Measure the normalised pixels instead of the
            model's features. Defaults to False.
        knn (dict, optional): ``k`` and ``temperature`` of
            :func:`knn_accuracy`; None takes its defaults.
        shots (int): Labels per class of the few-shot accuracy.
            Defaults to 5.
        draws (int): Seeded draws it averages. Defaults to 20.
        seed (int): Seed of the first draw. Defaults to 0.
        progress (bool): Show a progress bar. Defaults to False.

    Returns:
        dict[str, float]: ``knn`` and ``few_shot`` accuracies in percent.
    """
    feats, labels = extract_features(
        model, loader, pixels=pixels, progress=progress)
    n_bank = len(loader.dataset.bank)
    bank = feats[:n_bank], labels[:n_bank]
    queries = feats[n_bank:], labels[n_bank:]
    return dict(
        knn=knn_accuracy(bank, queries, **(knn or {})),
        few_shot=few_shot_accuracy(bank, queries, shots, draws, seed))
