"""The data passed between an algorithm and its hard-example generators."""
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional

import torch


@dataclass
class PseudoLabels:
    """Pseudo-labels of a batch: one probability vector per image.

    An algorithm gives one :class:`PseudoLabels` for all its source views,
    or one per source view when each view has its own targets (a symmetric
    loss: view 1 predicts view 2's key and view 2 view 1's).

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
    """What the clean pass of a step leaves for the generators and for
    :meth:`PseudoLabelAlgorithm.update_state`.

    Args:
        views (list[torch.Tensor]): The clean source views hard examples are
            made from, normalised, each (N, 3, H, W); detached.
        embeddings (list[torch.Tensor]): The embedding of each source view
            computed by the step's clean forward pass, detached.
        grads (list[torch.Tensor], optional): The gradient of the clean loss
            with respect to each view, taken in the backward pass that gives
            the clean loss its parameter gradients; present when a generator
            asked for it (:attr:`BaseHardExample.needs_clean_grads`) and the
            algorithm could provide it, else None.
        alone (bool): Whether the source views were encoded without other
            views, i.e. with the batch-norm grouping
            :meth:`PseudoLabelAlgorithm.hard_view_loss` gives views of their
            sizes; then ``embeddings`` are what that loss would compute on the
            clean views. Defaults to True.
    """

    views: List[torch.Tensor]
    embeddings: List[torch.Tensor]
    grads: Optional[List[torch.Tensor]] = None
    alone: bool = True
