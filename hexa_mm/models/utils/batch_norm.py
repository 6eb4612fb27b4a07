"""Forward passes that leave batch-norm running statistics alone."""
from contextlib import contextmanager
from typing import Iterator

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['frozen_norm_stats']


@contextmanager
def frozen_norm_stats(module: nn.Module) -> Iterator[None]:
    """Batch norms of ``module`` normalise with batch statistics in training
    mode but leave their running statistics (and counters) untouched.

    Use it for any extra forward pass of a training step (an attack, a
    measurement) that must not change the model.

    Args:
        module (nn.Module): The module whose ``_BatchNorm`` layers to freeze.

    Yields:
        None: Inside the context the statistics are frozen.
    """
    norms = [
        m for m in module.modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats
    ]
    for norm in norms:
        norm.track_running_stats = False
    try:
        yield
    finally:
        for norm in norms:
            norm.track_running_stats = True
