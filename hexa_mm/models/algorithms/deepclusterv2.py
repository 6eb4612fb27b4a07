"""DeepCluster-v2 on the pseudo-label interface."""
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmpretrain.structures import DataSample

from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError, check_positive, distinct_indices
from ..losses import soft_cross_entropy
from ..utils import CleanPass, MemoryBank, PseudoLabels
from .bank_clustering import BankClustering, PrototypeSet
from .base import PseudoLabelAlgorithm


@MODELS.register_module()
class DeepClusterV2(PseudoLabelAlgorithm, BankClustering):
    """DeepCluster-v2, from `Unsupervised Learning of Visual Features by
    Contrasting Cluster Assignments <https://arxiv.org/abs/2006.09882>`_
    (the SwAV paper).

    Pseudo-label reading: the label of an image is *its cluster* in each of
    ``H`` sets of prototypes. At each epoch start
    :class:`hexa_mm.engine.DeepClusterHook` runs spherical k-means per set on
    the memory bank and calls :meth:`set_clusters` (the hook drives the
    :class:`BankClustering` interface): the centroids become the
    prototypes (a buffer, never trained by gradient) and every image gets
    one cluster per set. A view is scored against all prototypes,
    ``embedding @ prototypes.T / temperature``, one segment of ``K_h``
    logits per set; its target is each set's one-hot assignment, concatenated
    over the sets and divided by ``H`` (so a row sums to 1 and mixes like
    any other pseudo-label). The loss is the cross-entropy of each segment
    against its assignment, averaged over the sets and over every crop,
    as in the reference implementation.

    The memory bank (:class:`hexa_mm.models.utils.MemoryBank`) holds, per
    sample (its ``sample_idx``), the embeddings of the assignment crops;
    prototype set ``h`` is clustered on the bank of assignment crop
    ``h mod len(assign_crops)``. Each training step writes the embeddings it
    computed for those crops (see :meth:`update_state`). Checkpoints hold
    the bank and the assignments under the key ``'deepcluster'``
    (:meth:`save_clusters`).

    Multi-crop batches as the reference (SwAV's code base): the backbone once
    per resolution, the projection neck once over all crops
    (:meth:`encode_views`).

    Views: the assignment crops are the source views (hard examples are made
    from them); the other crops (multi-crop's small ones) are extra views,
    predicted but never clustered.

    Args:
        backbone (dict): Config of the backbone.
        neck (dict): Config of the projection neck, to ``feat_dim``
            (e.g. ``NonLinearNeck``: Linear-BN-ReLU-Linear).
        num_prototypes (int or Sequence[int]): Clusters of each prototype
            set. Defaults to ``(3000, 3000, 3000)``.
        feat_dim (int): Dimension of the embeddings. Defaults to 128.
        temperature (float): Softmax temperature. Defaults to 0.1.
        assign_crops (Sequence[int]): Indices of the views whose embeddings
            are clustered. Defaults to ``(0, 1)``.
        hard_examples (list[dict], optional): Hard-example generators.
        pretrained (str, optional): A pretrained checkpoint.
        data_preprocessor (dict, optional): The data preprocessor.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    #: Where checkpoints hold the bank and the assignments.
    CHECKPOINT_KEY = 'deepcluster'

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 num_prototypes: Union[int,
                                       Sequence[int]] = (3000, 3000, 3000),
                 feat_dim: int = 128,
                 temperature: float = 0.1,
                 assign_crops: Sequence[int] = (0, 1),
                 hard_examples: Optional[List[dict]] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if isinstance(num_prototypes, int):
            num_prototypes = (num_prototypes, )
        num_prototypes = tuple(int(k) for k in num_prototypes)
        if not num_prototypes or min(num_prototypes) < 1:
            raise ConfigError(f'DeepClusterV2: num_prototypes='
                              f'{num_prototypes} must be positive counts.')
        assign_crops = distinct_indices('DeepClusterV2', 'assign_crops',
                                        assign_crops, 'view indices')
        check_positive('DeepClusterV2', temperature=temperature)
        super().__init__(backbone, neck, hard_examples, pretrained,
                         data_preprocessor, init_cfg)
        self.num_prototypes = num_prototypes
        self.feat_dim = feat_dim
        self.temperature = temperature
        self.assign_crops = assign_crops
        self.register_buffer('prototypes',
                             torch.zeros(sum(num_prototypes), feat_dim))
        self.assignments: Optional[torch.Tensor] = None
        self.memory_bank: Optional[MemoryBank] = None

    # ------------------------------------------------------------------
    # Training state, driven by DeepClusterHook.
    # ------------------------------------------------------------------
    def init_memory_bank(self, num_samples: int) -> MemoryBank:
        """Start an empty memory bank for a data set of ``num_samples``.

        Args:
            num_samples (int): Size of the training data set.

        Returns:
            MemoryBank: The new bank, also ``self.memory_bank``.
        """
        self.memory_bank = MemoryBank(num_samples, len(self.assign_crops),
                                      self.feat_dim, self.prototypes.device)
        return self.memory_bank

    @torch.no_grad()
    def set_clusters(self, centroids: Sequence[torch.Tensor],
                     assignments: torch.Tensor) -> None:
        """Copy the centroids into the prototypes, keep the assignments.

        Args:
            centroids (Sequence[torch.Tensor]): (K_h, feat_dim) per set.
            assignments (torch.Tensor): (H, num_samples) cluster ids, -1
                where a sample was not clustered.

        Raises:
            ValueError: If a shape does not fit the prototype sets.
        """
        shapes = tuple(tuple(c.shape) for c in centroids)
        expected = tuple((k, self.feat_dim) for k in self.num_prototypes)
        if shapes != expected:
            raise ValueError(
                f'DeepClusterV2.set_clusters: centroids of shapes '
                f'{shapes}, expected {expected}.')
        if assignments.dim() != 2 or assignments.shape[0] != len(expected):
            raise ValueError('DeepClusterV2.set_clusters: assignments must be '
                             f'({len(expected)}, num_samples), got '
                             f'{tuple(assignments.shape)}.')
        self.prototypes.copy_(torch.cat(list(centroids)))
        self.assignments = assignments.to(
            device=self.prototypes.device, dtype=torch.long)

    def prototype_sets(self) -> List[PrototypeSet]:
        """Set ``h`` is clustered on the bank of assignment crop
        ``h mod len(assign_crops)``.

        Returns:
            list[PrototypeSet]: One entry per prototype set.
        """
        crops = len(self.assign_crops)
        return [
            PrototypeSet(k, h % crops, self.assign_crops[h % crops])
            for h, k in enumerate(self.num_prototypes)
        ]

    def save_clusters(self, checkpoint: Dict,
                      memory_bank: Dict[str, torch.Tensor]) -> None:
        """Write ``checkpoint['deepcluster']``: the gathered bank and the
        assignments (the prototypes are a buffer, saved with the weights).

        Args:
            checkpoint (dict): The checkpoint; left as it is before the
                first clustering.
            memory_bank (dict): The bank of every process
                (:meth:`MemoryBank.gather`).
        """
        if self.assignments is None:
            return
        checkpoint[self.CHECKPOINT_KEY] = dict(
            memory_bank=memory_bank, assignments=self.assignments.cpu())

    @staticmethod
    def saved_clusters(checkpoint: Dict) -> Optional[Dict]:
        """``checkpoint['deepcluster']``, if any.

        Args:
            checkpoint (dict): A loaded checkpoint.

        Returns:
            dict, optional: The bank and the assignments, or None.
        """
        return checkpoint.get(DeepClusterV2.CHECKPOINT_KEY)

    def restore_clusters(self, state: Dict) -> None:
        """Install saved assignments with the loaded prototypes, and load the
        saved bank into the memory bank if it is started.

        Args:
            state (dict): From :meth:`saved_clusters`.
        """
        if self.memory_bank is not None:
            self.memory_bank.load(state['memory_bank'])
        self.set_clusters(
            self.prototypes.split(self.num_prototypes), state['assignments'])

    @torch.no_grad()
    def fill_memory_bank(self, inputs: List[torch.Tensor],
                         data_samples: List[DataSample]) -> None:
        """Embed the assignment crops of a batch into the memory bank.

        Used by the pass over the data before the first epoch, as the
        reference's ``init_memory``: one forward per assignment crop (batch
        norm over that crop's batch, in the mode the caller set), without
        gradients.

        Args:
            inputs (list[torch.Tensor]): The normalised views of the batch.
            data_samples (list[DataSample]): The samples (``sample_idx``).
        """
        embeddings = [self.encode(view) for view in self.source_views(inputs)]
        self._bank().write(
            self.sample_indices(data_samples), torch.stack(embeddings))

    def _bank(self) -> MemoryBank:
        """The memory bank, or a clear error if there is none.

        Returns:
            MemoryBank: ``self.memory_bank``.
        """
        if self.memory_bank is None:
            raise ConfigError(
                'DeepClusterV2 has no memory bank: add '
                "dict(type='DeepClusterHook') to custom_hooks (it fills the "
                'bank and clusters it at each epoch start).')
        return self.memory_bank

    def sample_indices(self, data_samples: List[DataSample]) -> torch.Tensor:
        """The ``sample_idx`` of each sample of a batch.

        Args:
            data_samples (list[DataSample]): The samples.

        Returns:
            torch.Tensor: (B, ) long, on the prototypes' device.
        """
        indices = [s.metainfo.get('sample_idx') for s in data_samples or []]
        if not indices or any(i is None for i in indices):
            raise ConfigError(
                'DeepClusterV2 needs the sample_idx of every image (its row '
                'in the memory bank); use a data set derived from '
                "mmengine's BaseDataset and PackInputs, which keep it.")
        return torch.as_tensor(
            indices, dtype=torch.long, device=self.prototypes.device)

    def check_train_setup(self, global_batch_size: int,
                          dataset_size: int) -> None:
        """Refuse more clusters than training samples.

        Args:
            global_batch_size (int): Batch size over all processes (unused).
            dataset_size (int): Number of training samples.
        """
        if max(self.num_prototypes) > dataset_size:
            raise ConfigError(
                f'DeepClusterV2: num_prototypes={self.num_prototypes} but '
                f'the training set has {dataset_size} samples; k-means needs '
                'at most one cluster per sample.')

    # ------------------------------------------------------------------
    # The pseudo-label interface.
    # ------------------------------------------------------------------
    def source_views(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        """The assignment crops.

        Args:
            inputs (list[torch.Tensor]): All views of the batch.

        Returns:
            list[torch.Tensor]: ``inputs[c]`` for ``c`` in ``assign_crops``.
        """
        if max(self.assign_crops) >= len(inputs):
            raise ConfigError(
                f'DeepClusterV2: assign_crops={self.assign_crops} but the '
                f'pipeline gives {len(inputs)} views; set MultiView\'s '
                'num_views or model.assign_crops.')
        return [inputs[c] for c in self.assign_crops]

    def extra_views(self, inputs: List[torch.Tensor]) -> List[torch.Tensor]:
        """The crops that are predicted but not clustered (multi-crop).

        Args:
            inputs (list[torch.Tensor]): All views of the batch.

        Returns:
            list[torch.Tensor]: The views not in ``assign_crops``, in order.
        """
        return [
            view for i, view in enumerate(inputs) if i not in self.assign_crops
        ]

    @torch.no_grad()
    def pseudo_labels(self, inputs: List[torch.Tensor],
                      data_samples: List[DataSample]) -> PseudoLabels:
        """Each image's cluster in every prototype set.

        Args:
            inputs (list[torch.Tensor]): The views (unused).
            data_samples (list[DataSample]): The samples (``sample_idx``).

        Returns:
            PseudoLabels: Targets (B, sum K_h): segment ``h`` is the one-hot
            cluster of set ``h`` divided by ``H``. ``context['sample_idx']``
            holds the sample ids.
        """
        if self.assignments is None:
            raise ConfigError(
                'DeepClusterV2 has no cluster assignments yet: add '
                "dict(type='DeepClusterHook') to custom_hooks (it fills the "
                'memory bank and clusters it at each epoch start).')
        sample_idx = self.sample_indices(data_samples)
        if int(sample_idx.max()) >= self.assignments.shape[1]:
            raise ConfigError(
                f'DeepClusterV2: sample_idx {int(sample_idx.max())} but the '
                f'clusters cover {self.assignments.shape[1]} samples.')
        clusters = self.assignments[:, sample_idx]
        if bool((clusters < 0).any()):
            missing = sample_idx[(clusters < 0).any(dim=0)].tolist()
            raise RuntimeError(
                f'DeepClusterV2: samples {missing[:5]} have no cluster: they '
                'were not in the memory bank when the epoch started (the '
                'fill pass embeds every sample the train sampler yields).')
        num_sets = len(self.num_prototypes)
        offsets = torch.tensor([0, *self.num_prototypes[:-1]],
                               device=clusters.device).cumsum(0)
        probs = self.prototypes.new_zeros(clusters.shape[1],
                                          self.prototypes.shape[0])
        probs.scatter_(1, (clusters + offsets[:, None]).t(), 1.0 / num_sets)
        return PseudoLabels(probs=probs, context=dict(sample_idx=sample_idx))

    def classify(self, embedding: torch.Tensor,
                 labels: PseudoLabels) -> torch.Tensor:
        """Scores against every prototype, divided by the temperature.

        Args:
            embedding (torch.Tensor): Unit embeddings, (N, feat_dim).
            labels (PseudoLabels): The batch's pseudo-labels (unused: the
                label space is the prototypes).

        Returns:
            torch.Tensor: (N, sum K_h) logits.
        """
        return embedding @ self.prototypes.t().to(
            embedding.dtype) / self.temperature

    def pseudo_label_loss(self, logits: torch.Tensor,
                          probs: torch.Tensor) -> torch.Tensor:
        """Cross-entropy per prototype set, averaged over the sets.

        Args:
            logits (torch.Tensor): (N, sum K_h), from :meth:`classify`.
            probs (torch.Tensor): Targets over the same labels; segment ``h``
                sums to ``1 / H``.

        Returns:
            torch.Tensor: ``mean_h soft_cross_entropy(logits_h, H * probs_h)``.
        """
        num_sets = len(self.num_prototypes)
        losses = [
            soft_cross_entropy(seg_logits, seg_probs * num_sets)
            for seg_logits, seg_probs in zip(
                logits.split(self.num_prototypes, dim=1),
                probs.split(self.num_prototypes, dim=1))
        ]
        return sum(losses) / num_sets

    def update_state(self, labels: List[PseudoLabels], clean: CleanPass,
                     data_samples: List[DataSample]) -> None:
        """Write the step's embeddings of the assignment crops to the bank:
        those of the step's own forward pass, as in the reference
        implementation.

        Args:
            labels (list[PseudoLabels]): Carry ``sample_idx``.
            clean (CleanPass): The clean pass; its embeddings are those of
                the assignment crops.
            data_samples (list[DataSample]): Unused (the ids are in
                ``labels``).
        """
        self._bank().write(labels[0].context['sample_idx'],
                           torch.stack(clean.embeddings))
