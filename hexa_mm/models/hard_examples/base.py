"""The base of hard-example generators."""
from abc import ABCMeta, abstractmethod
from contextlib import nullcontext
from typing import ContextManager, Dict, List, Tuple

import torch
from torch import nn

from hexa_mm.utils import ConfigError
from ..utils import CleanPass, PseudoLabels

#: The methods of the pseudo-label interface a generator may call.
INTERFACE = ('pseudo_label_loss', 'predict', 'classify', 'pixel_scale')


class BaseHardExample(nn.Module, metaclass=ABCMeta):
    """Make views whose pseudo-labels are harder to predict.

    A generator sees an algorithm only through the pseudo-label interface
    (:class:`hexa_mm.models.algorithms.PseudoLabelAlgorithm`): ``predict``,
    ``classify``, ``pseudo_label_loss`` and ``pixel_scale``. It never asks
    which algorithm it serves.

    Args:
        weight (float): Weight of this generator's loss in the total loss.
            Defaults to 1.0.
        name (str): Name of the logged loss ``loss_{name}``.
    """

    #: Whether the generator wants the gradient of the clean loss with
    #: respect to the clean views (:attr:`CleanPass.grads`).
    reuses_clean_pass = False

    def __init__(self, weight: float = 1.0, name: str = 'hard') -> None:
        super().__init__()
        if weight < 0:
            raise ConfigError(f'{type(self).__name__}: weight={weight} must '
                              'be >= 0.')
        self.weight = float(weight)
        self.name = name

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
    def forward(
        self, algorithm: nn.Module, clean: CleanPass, labels: PseudoLabels
    ) -> Tuple[List[torch.Tensor], PseudoLabels, Dict[str, torch.Tensor]]:
        """Make hard views of the clean source views and their targets.

        Args:
            algorithm (nn.Module): The algorithm (pseudo-label interface).
            clean (CleanPass): The clean source views and their embeddings.
            labels (PseudoLabels): The pseudo-labels of the clean views.

        Returns:
            tuple: The hard views (one per source view), their pseudo-labels,
            and scalars to log (named without ``loss``, they are not summed).
        """
