"""MoCo-v2 on the pseudo-label interface."""
from typing import List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.dist import all_gather
from mmengine.model import ExponentialMovingAverage
from mmpretrain.models.utils import batch_shuffle_ddp, batch_unshuffle_ddp
from mmpretrain.structures import DataSample
from torch import nn

from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError, check_positive
from ..utils import CleanPass, PseudoLabels
from .base import PseudoLabelAlgorithm


@MODELS.register_module()
class MoCoV2(PseudoLabelAlgorithm):
    """MoCo-v2, `Improved Baselines with Momentum Contrastive Learning
    <https://arxiv.org/abs/2003.04297>`_.

    Pseudo-label reading: the label of a query is *which key is its own*. The
    clean loss is exactly MoCo-v2's: cross-entropy over ``[positive, queue]``
    logits divided by the temperature. For hard views the label space is
    ``[keys of the batch, queue]``, so that a mixed target can name the
    partner's key; a clean target is one-hot on the image's own key.

    Keys come from the momentum encoder (updated before the keys are
    computed) on the second view, with shuffled batch norm under DDP. The
    queue is updated with the clean keys of every process after the step.

    Args:
        backbone (dict): Config of the backbone.
        neck (dict): Config of the projection neck (``MoCoV2Neck``).
        queue_len (int): Number of negative keys in the queue; must be a
            multiple of the global batch size. Defaults to 65536.
        feat_dim (int): Dimension of the embeddings. Defaults to 128.
        momentum (float): EMA momentum of the key encoder in mmengine's
            convention (``1 - m`` of the paper). Defaults to 0.001.
        temperature (float): Softmax temperature. Defaults to 0.2.
        hard_examples (list[dict], optional): Hard-example generators.
        pretrained (str, optional): A pretrained checkpoint.
        data_preprocessor (dict, optional): The data preprocessor.
        init_cfg (dict or list[dict], optional): Initialisation config.
    """

    def __init__(self,
                 backbone: dict,
                 neck: dict,
                 queue_len: int = 65536,
                 feat_dim: int = 128,
                 momentum: float = 0.001,
                 temperature: float = 0.2,
                 hard_examples: Optional[List[dict]] = None,
                 pretrained: Optional[str] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[Union[List[dict], dict]] = None) -> None:
        if queue_len < 1:
            raise ConfigError(f'MoCoV2: queue_len={queue_len} must be >= 1.')
        check_positive('MoCoV2', temperature=temperature)
        super().__init__(backbone, neck, hard_examples, pretrained,
                         data_preprocessor, init_cfg)
        self.temperature = temperature
        self.encoder_k = ExponentialMovingAverage(
            nn.Sequential(self.backbone, self.neck), momentum)
        self.queue_len = queue_len
        self.register_buffer(
            'queue', F.normalize(torch.randn(feat_dim, queue_len), dim=0))
        self.register_buffer('queue_ptr', torch.zeros(1, dtype=torch.long))

    def check_train_setup(self, global_batch_size: int,
                          dataset_size: int) -> None:
        """Refuse a queue length that the global batch does not divide.

        Args:
            global_batch_size (int): Batch size summed over all processes.
            dataset_size (int): Number of training samples (unused).
        """
        if self.queue_len % global_batch_size:
            raise ConfigError(
                f'MoCoV2: queue_len={self.queue_len} is not a multiple of the '
                f'global batch size {global_batch_size}; set model.queue_len '
                f'to a multiple of it (e.g. '
                f'{max(1, self.queue_len // global_batch_size) * global_batch_size}'
                ').')

    @torch.no_grad()
    def pseudo_labels(self, inputs: List[torch.Tensor],
                      data_samples: List[DataSample]) -> PseudoLabels:
        """Keys of the second view; each query's label is its own key.

        Args:
            inputs (list[torch.Tensor]): Views; ``inputs[1]`` gives the keys.
            data_samples (list[DataSample]): Unused.

        Returns:
            PseudoLabels: One-hot targets over ``[batch keys, queue]`` with
            ``context`` holding ``keys`` (N, D) and ``queue`` (D, K).
        """
        if len(inputs) < 2:
            raise ConfigError(
                f'MoCoV2 needs 2 views per image (query and key), got '
                f'{len(inputs)}; use MultiView(num_views=2) in the train '
                'pipeline.')
        self.encoder_k.update_parameters(
            nn.Sequential(self.backbone, self.neck))
        im_k, idx_unshuffle = batch_shuffle_ddp(inputs[1])
        keys = F.normalize(self.encoder_k(im_k)[0], dim=1)
        keys = batch_unshuffle_ddp(keys, idx_unshuffle)
        num = keys.shape[0]
        probs = keys.new_zeros(num, num + self.queue_len)
        probs[:, :num] = torch.eye(num, dtype=keys.dtype, device=keys.device)
        return PseudoLabels(
            probs=probs,
            context=dict(keys=keys, queue=self.queue.clone().detach()))

    def classify(self, embedding: torch.Tensor,
                 labels: PseudoLabels) -> torch.Tensor:
        """Logits over ``[keys of the batch, queue]``.

        Args:
            embedding (torch.Tensor): Unit-norm queries, (N, D).
            labels (PseudoLabels): Carries ``keys`` and ``queue``.

        Returns:
            torch.Tensor: (N, N + K) logits divided by the temperature.
        """
        keys, queue = labels.context['keys'], labels.context['queue']
        return torch.cat([embedding @ keys.t(), embedding @ queue],
                         dim=1) / self.temperature

    def clean_loss(self, embeddings: List[torch.Tensor],
                   labels: List[PseudoLabels]) -> torch.Tensor:
        """MoCo-v2's loss: cross-entropy over ``[positive, queue]`` logits.

        Args:
            embeddings (list[torch.Tensor]): The queries, ``[q]``.
            labels (list[PseudoLabels]): ``[labels]``, carrying ``keys`` and
                ``queue``.

        Returns:
            torch.Tensor: The loss.
        """
        query = embeddings[0]
        keys, queue = labels[0].context['keys'], labels[0].context['queue']
        l_pos = torch.einsum('nc,nc->n', [query, keys]).unsqueeze(-1)
        l_neg = torch.einsum('nc,ck->nk', [query, queue])
        logits = torch.cat([l_pos, l_neg], dim=1) / self.temperature
        target = torch.zeros(
            logits.shape[0], dtype=torch.long, device=logits.device)
        return F.cross_entropy(logits, target)

    @torch.no_grad()
    def update_state(self, labels: List[PseudoLabels], clean: CleanPass,
                     data_samples: List[DataSample]) -> None:
        """Enqueue the clean keys of all processes, dequeue the oldest.

        Args:
            labels (list[PseudoLabels]): ``[labels]``, carrying this
                process's ``keys``.
            clean (CleanPass): Unused.
            data_samples (list[DataSample]): Unused.
        """
        keys = torch.cat(all_gather(labels[0].context['keys']), dim=0)
        batch = keys.shape[0]
        self.check_train_setup(batch, 0)
        ptr = int(self.queue_ptr)
        self.queue[:, ptr:ptr + batch] = keys.t()
        self.queue_ptr[0] = (ptr + batch) % self.queue_len
