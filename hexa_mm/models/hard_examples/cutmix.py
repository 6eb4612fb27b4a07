"""CutMix hard examples: a box of a partner image, area-weighted targets."""
from typing import List, NamedTuple, Optional, Sequence

import numpy as np
import torch
from mmpretrain.models.utils.batch_augments import CutMix
from torch import nn

from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError, check_positive
from ..utils import CleanPass, PseudoLabels
from .base import BaseHardExample, HardViews


class CutMixBatch(NamedTuple):
    """The result of :meth:`CutMixHardExample.mix`.

    Args:
        views (list[torch.Tensor]): The mixed views, each (N, 3, H, W).
        partner (torch.Tensor): Index of each image's partner, (N, ).
        lam (torch.Tensor): Share of each image that stays its own, (N, ).
        boxes (torch.Tensor): The pasted box of each image as
            ``(y1, y2, x1, x2)``, end-exclusive, (N, 4); empty boxes for
            images left unmixed.
    """

    views: List[torch.Tensor]
    partner: torch.Tensor
    lam: torch.Tensor
    boxes: torch.Tensor


@MODELS.register_module()
class CutMixHardExample(BaseHardExample):
    """CutMix views, as in HEXA (`Li et al. 2020
    <https://arxiv.org/abs/2012.13493>`_), after CutMix (`Yun et al. 2019
    <https://arxiv.org/abs/1905.04899>`_).

    Each image of the batch is paired with a partner from the same batch (a
    random cyclic permutation, so never itself). With probability ``prob``
    a box of the partner is pasted into it: ``λ ~ Beta(α, α)`` sets the box
    size, the box is placed at random and clipped to the image (mmpretrain's
    ``cutmix_bbox_and_lam``), and ``λ`` is recomputed as the share of the
    image left uncovered. The target of each view is
    ``λ·own + (1 − λ)·partner's``, over that view's label space. Every source
    view of an image gets the same partner and box. The mean ``λ`` is logged
    as ``{name}_lam``.

    The HEXA paper does not publish its mixing settings; ``alpha=1.0`` and
    ``prob=1.0`` are hexa_mm's defaults (those of CutMix).

    Args:
        alpha (float): Parameter of the Beta distribution of ``λ``; > 0.
            Defaults to 1.0.
        prob (float): Probability that an image is mixed, in (0, 1].
            Defaults to 1.0.
        weight (float): Weight of the loss. Defaults to 1.0.
        name (str): Name of the logged terms. Defaults to ``'cutmix'``.
        view_indices (Sequence[int], optional): Which source views to make
            hard. Defaults to None (all).
    """

    def __init__(self,
                 alpha: float = 1.0,
                 prob: float = 1.0,
                 weight: float = 1.0,
                 name: str = 'cutmix',
                 view_indices: Optional[Sequence[int]] = None) -> None:
        super().__init__(weight=weight, name=name, view_indices=view_indices)
        check_positive('CutMixHardExample', alpha=alpha)
        if not 0 < prob <= 1:
            raise ConfigError(
                f'CutMixHardExample: prob={prob} must be in (0, 1].')
        self.alpha = float(alpha)
        self.prob = float(prob)
        self._cutmix = CutMix(alpha=self.alpha)

    @staticmethod
    def partners(num: int, device: torch.device) -> torch.Tensor:
        """A random cyclic permutation: every image gets another image.

        Args:
            num (int): Batch size; at least 2.
            device (torch.device): Device of the result.

        Returns:
            torch.Tensor: ``partner[i] != i``, a permutation of ``range(num)``.
        """
        if num < 2:
            raise ValueError('CutMixHardExample needs at least 2 images per '
                             f'batch on each process to pair, got {num}.')
        order = torch.randperm(num, device=device)
        partner = torch.empty_like(order)
        partner[order] = order.roll(-1)
        return partner

    def mix(self, views: List[torch.Tensor]) -> CutMixBatch:
        """Paste a box of each image's partner into every view of it.

        Args:
            views (list[torch.Tensor]): Views of one batch, each
                (N, C, H, W), all of one size.

        Returns:
            CutMixBatch: The mixed views, partners, ``λ`` and boxes.
        """
        shape = views[0].shape
        if any(v.shape != shape for v in views):
            sizes = [tuple(v.shape) for v in views]
            raise ValueError('CutMixHardExample: the source views must share '
                             f'one size, got {sizes}.')
        num, height, width = shape[0], shape[-2], shape[-1]
        device = views[0].device
        partner = self.partners(num, device)
        boxes = np.zeros((num, 4), dtype=np.int64)
        lam = np.ones(num)
        for i in np.flatnonzero(np.random.rand(num) < self.prob):
            box, lam[i] = self._cutmix.cutmix_bbox_and_lam(
                (height, width), np.random.beta(self.alpha, self.alpha))
            boxes[i] = box
        boxes_t = torch.from_numpy(boxes).to(device)
        rows = torch.arange(height, device=device).view(1, -1, 1)
        cols = torch.arange(width, device=device).view(1, 1, -1)
        y1, y2, x1, x2 = (boxes_t[:, k].view(-1, 1, 1) for k in range(4))
        inside = ((rows >= y1) & (rows < y2) & (cols >= x1) &
                  (cols < x2)).unsqueeze(1)
        mixed = [torch.where(inside, v[partner], v) for v in views]
        return CutMixBatch(
            views=mixed,
            partner=partner,
            lam=torch.from_numpy(lam).to(device=device, dtype=views[0].dtype),
            boxes=boxes_t)

    @torch.no_grad()
    def forward(self, algorithm: nn.Module, clean: CleanPass,
                labels: List[PseudoLabels]) -> HardViews:
        """CutMix views of the clean source views and their mixed targets.

        Args:
            algorithm (nn.Module): The algorithm (unused: CutMix needs only
                the views and targets).
            clean (CleanPass): The clean source views.
            labels (list[PseudoLabels]): The pseudo-labels of each view.

        Returns:
            tuple: The mixed views, their targets
            ``λ·own + (1 − λ)·partner's``, and ``{name}_lam``.
        """
        batch = self.mix([v.detach() for v in clean.views])
        mixed = []
        for lab in labels:
            lam = batch.lam.to(lab.probs.dtype).unsqueeze(1)
            mixed.append(
                lab.with_probs(lam * lab.probs +
                               (1 - lam) * lab.probs[batch.partner]))
        return batch.views, mixed, {f'{self.name}_lam': batch.lam.mean()}
