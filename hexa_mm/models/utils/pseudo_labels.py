"""The data passed between an algorithm and its hard-example generators."""
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional

import torch


@dataclass
class PseudoLabels:
    """Pseudo-labels of a batch: one probability vector per image.

    Args:
        probs (torch.Tensor): Targets over the algorithm's label space, shape
            (N, C); each row sums to 1 (one-hot for a clean view).
        context (dict): Batch-level state the algorithm needs to score a view
            against this label space (e.g. MoCo's keys). Generators pass it
            through untouched.
    """

    probs: torch.Tensor
    context: Dict[str, Any] = field(default_factory=dict)

    def with_probs(self, probs: torch.Tensor) -> 'PseudoLabels':
        """Return a copy with other targets over the same label space.

        Args:
            probs (torch.Tensor): The new targets, shape (N, C).

        Returns:
            PseudoLabels: The copy; the context is shared.
        """
        if probs.shape != self.probs.shape:
            raise ValueError(f'targets of shape {tuple(probs.shape)} do not '
                             f'fit a label space of {tuple(self.probs.shape)}')
        return replace(self, probs=probs)


@dataclass
class CleanPass:
    """What the clean pass of a step leaves for the generators.

    Args:
        views (list[torch.Tensor]): The clean source views hard examples are
            made from, normalised, each (N, 3, H, W); detached.
        embeddings (list[torch.Tensor]): ``algorithm.encode`` of each view,
            detached.
        grads (list[torch.Tensor], optional): The gradient of the clean loss
            with respect to each view, taken in the backward pass that gives
            the clean loss its parameter gradients; present when a generator
            asked for it (:attr:`BaseHardExample.reuses_clean_pass`) and the
            algorithm could provide it, else None.
    """

    views: List[torch.Tensor]
    embeddings: List[torch.Tensor]
    grads: Optional[List[torch.Tensor]] = None
