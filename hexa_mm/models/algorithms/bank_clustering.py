"""The interface :class:`hexa_mm.engine.DeepClusterHook` drives."""
from abc import ABCMeta, abstractmethod
from typing import Dict, List, NamedTuple, Optional, Sequence

import torch
from mmpretrain.structures import DataSample

from ..utils import MemoryBank


class PrototypeSet(NamedTuple):
    """One clustering of the memory bank at each epoch start.

    Attributes:
        num_clusters (int): Clusters (k-means centroids) of the set.
        bank_crop (int): The crop of the bank that is clustered.
        view (int): The view of a batch that crop holds.
    """

    num_clusters: int
    bank_crop: int
    view: int


class BankClustering(metaclass=ABCMeta):
    """An algorithm whose pseudo-labels are clusters of a memory bank.

    :class:`hexa_mm.engine.DeepClusterHook` talks to the algorithm through
    these calls only: it starts the bank (:meth:`init_memory_bank`), fills
    it (:meth:`fill_memory_bank`), clusters each of :meth:`prototype_sets`
    at every epoch start and installs the result (:meth:`set_clusters`),
    and moves the state in and out of checkpoints (:meth:`save_clusters`,
    :meth:`saved_clusters`, :meth:`restore_clusters`), as tools that load a
    checkpoint do too. The layout of that state is the algorithm's.

    Attributes:
        memory_bank (MemoryBank, optional): The bank, once
            :meth:`init_memory_bank` has started it.
    """

    memory_bank: Optional[MemoryBank]

    @abstractmethod
    def init_memory_bank(self, num_samples: int) -> MemoryBank:
        """Start an empty memory bank for a data set of ``num_samples``.

        Args:
            num_samples (int): Size of the training data set.

        Returns:
            MemoryBank: The new bank, also ``self.memory_bank``.
        """

    @abstractmethod
    def fill_memory_bank(self, inputs: List[torch.Tensor],
                         data_samples: List[DataSample]) -> None:
        """Embed a batch into the memory bank, without gradients.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples (``sample_idx``).
        """

    @abstractmethod
    def prototype_sets(self) -> List[PrototypeSet]:
        """What to cluster at each epoch start, in the order of
        :meth:`set_clusters`' arguments.

        Returns:
            list[PrototypeSet]: One entry per prototype set.
        """

    @abstractmethod
    def set_clusters(self, centroids: Sequence[torch.Tensor],
                     assignments: torch.Tensor) -> None:
        """Install the result of clustering.

        Args:
            centroids (Sequence[torch.Tensor]): Unit centroids of each set,
                (K_h, feat_dim).
            assignments (torch.Tensor): Cluster of each sample in each set,
                (H, num_samples), long; -1 for a sample not clustered.
        """

    @abstractmethod
    def save_clusters(self, checkpoint: Dict,
                      memory_bank: Dict[str, torch.Tensor]) -> None:
        """Write the clustering state into a checkpoint about to be saved.

        Args:
            checkpoint (dict): The checkpoint; left as it is before the
                first clustering.
            memory_bank (dict): The bank of every process
                (:meth:`MemoryBank.gather`).
        """

    @staticmethod
    @abstractmethod
    def saved_clusters(checkpoint: Dict) -> Optional[Dict]:
        """The clustering state :meth:`save_clusters` wrote.

        Args:
            checkpoint (dict): A loaded checkpoint.

        Returns:
            dict, optional: The state, None if the checkpoint holds none.
        """

    @abstractmethod
    def restore_clusters(self, state: Dict) -> None:
        """Continue from a saved state: its assignments (the prototypes are a
        buffer, loaded with the weights) and, where the bank is started, the
        memory bank.

        Args:
            state (dict): From :meth:`saved_clusters`.
        """
