"""The base of hard-example generators."""
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from typing import ContextManager, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

from hexa_mm.utils import ConfigError, distinct_indices
from ..utils import CleanPass, PseudoLabels

#: What a generator returns: the hard views (one per source view it was
#: given), their pseudo-labels (one per view) and scalars to log.
HardViews = Tuple[List[torch.Tensor], List[PseudoLabels], Dict[str,
                                                               torch.Tensor]]

#: The methods of the pseudo-label interface a generator may call.
INTERFACE = ('hard_view_loss', 'pseudo_label_loss', 'logits', 'classify',
             'encode', 'pixel_scale')


class BaseHardExample(nn.Module, metaclass=ABCMeta):
    """Make views whose pseudo-labels are harder to predict.

    A generator sees an algorithm only through the pseudo-label interface
    (:class:`hexa_mm.models.algorithms.PseudoLabelAlgorithm`):
    ``hard_view_loss`` (the loss its views will be trained with),
    ``logits``, ``encode``, ``classify``, ``pseudo_label_loss`` and
    ``pixel_scale``. It never asks which algorithm it serves. A forward pass
    it makes itself must leave the model unchanged: wrap it in
    :func:`hexa_mm.models.utils.frozen_norm_stats` and take gradients with
    :func:`torch.autograd.grad`.

    Args:
        weight (float): Weight of this generator's loss in the total loss.
            Defaults to 1.0.
        name (str): Name of the logged loss ``loss_{name}``.
        view_indices (Sequence[int], optional): Which of the algorithm's
            source views to make hard (e.g. ``(0, )``: only the first of
            DeepCluster-v2's two assignment crops). Defaults to None (all).
    """

    #: Whether the generator wants the gradient of the clean loss with
    #: respect to the clean views (:attr:`CleanPass.grads`).
    needs_clean_grads = False

    #: Whether :meth:`encoding` changes the model's batch norms (its views
    #: are then encoded with norms of their own).
    own_norms = False

    def __init__(self,
                 weight: float = 1.0,
                 name: str = 'hard',
                 view_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if weight < 0:
            raise ConfigError(f'{type(self).__name__}: weight={weight} must '
                              'be >= 0.')
        if view_indices is not None:
            view_indices = distinct_indices(
                type(self).__name__, 'view_indices', view_indices,
                'source-view indices')
        self.weight = float(weight)
        self.name = name
        self.view_indices = view_indices

    def pick(self, clean: CleanPass, labels: List[PseudoLabels]
             ) -> Tuple[CleanPass, List[PseudoLabels]]:
        """The clean pass and targets of the source views to make hard.

        Args:
            clean (CleanPass): The clean pass of all source views.
            labels (list[PseudoLabels]): Their pseudo-labels.

        Returns:
            tuple[CleanPass, list[PseudoLabels]]: Those of ``view_indices``
            (all of them when it is None).
        """
        if self.view_indices is None:
            return clean, list(labels)
        if max(self.view_indices) >= len(clean.views):
            raise ConfigError(
                f'{type(self).__name__}: view_indices={self.view_indices} '
                f'but the algorithm has {len(clean.views)} source views.')
        idx = self.view_indices
        return CleanPass(
            views=[clean.views[i] for i in idx],
            embeddings=[clean.embeddings[i] for i in idx],
            grads=None if clean.grads is None else
            [clean.grads[i] for i in idx],
            alone=clean.alone and len(idx) == len(clean.views)), [
                labels[i] for i in idx
            ]

    def check_algorithm(self, algorithm: nn.Module) -> None:
        """Raise a clear error if ``algorithm`` lacks the interface.

        Called once when the algorithm is built; a generator that keeps
        per-algorithm modules (e.g. auxiliary norms) creates them here.

        Args:
            algorithm (nn.Module): The algorithm this generator serves.
        """
        missing = [
            m for m in INTERFACE if not callable(getattr(algorithm, m, None))
        ]
        if missing:
            raise ConfigError(
                f'{type(self).__name__} needs an algorithm built on '
                'hexa_mm.models.PseudoLabelAlgorithm; '
                f'{type(algorithm).__name__} lacks {", ".join(missing)}.')

    def encoding(self, algorithm: nn.Module) -> ContextManager:
        """The context in which the algorithm encodes this generator's views.

        Args:
            algorithm (nn.Module): The algorithm.

        Returns:
            ContextManager: Defaults to one that changes nothing.
        """
        return nullcontext()

    @abstractmethod
    def forward(self, algorithm: nn.Module, clean: CleanPass,
                labels: List[PseudoLabels]) -> HardViews:
        """Make hard views of the clean source views and their targets.

        Args:
            algorithm (nn.Module): The algorithm (pseudo-label interface).
            clean (CleanPass): The clean source views and their embeddings.
            labels (list[PseudoLabels]): The pseudo-labels of each clean
                source view.

        Returns:
            tuple: The hard views (one per source view), their pseudo-labels
            (one per hard view, over the label space of the source view's,
            with its context untouched), and scalars to log (named without
            ``loss``, they are not summed).
        """
