"""Batch norm over groups of a batch: shuffled batch norm on one device."""
import torch
import torch.nn.functional as F
from torch import nn

from hexa_mm.registry import MODELS
from hexa_mm.utils.errors import ConfigError


@MODELS.register_module('SplitBN')
class SplitBatchNorm2d(nn.BatchNorm2d):
    """Batch norm whose training statistics are taken over ``num_splits``
    groups of the batch, one mean and variance per group.

    MoCo shuffles the key batch across GPUs so that a key's batch
    statistics are not those of its query: with one statistic over the
    whole batch, the two encoders can match a positive pair through the
    batch's mean and variance instead of the image ("Shuffling BN", He et
    al. 2020, Sec. 3.3). On one device the shuffle moves nothing, unless
    the statistics are taken over groups: MoCo's single-GPU CIFAR demo
    (``SplitBatchNorm``, its ``bn_splits``) splits the batch into groups
    the way several GPUs would, and MoCo-v2 shuffles the keys across them
    (:func:`mmpretrain.models.utils.batch_shuffle_ddp`). Sample ``i``
    belongs to group ``i % num_splits``, as in the demo; the running
    statistics are updated per group and averaged over the groups. In eval
    mode it is :class:`torch.nn.BatchNorm2d` (the running statistics), and
    its state dict is a BatchNorm2d's, so its weights load into a network
    with plain batch norm. Use it as a backbone's
    ``norm_cfg=dict(type='SplitBN', num_splits=4)``.

    Args:
        num_features (int): Channels.
        num_splits (int): Groups of the batch; the batch size (per
            process) must be a multiple of it. Defaults to 4.
        **kwargs: The arguments of :class:`torch.nn.BatchNorm2d`.
    """

    def __init__(self, num_features: int, num_splits: int = 4,
                 **kwargs) -> None:
        if not (isinstance(num_splits, int) and num_splits >= 1):
            raise ConfigError(f'SplitBN: num_splits={num_splits!r} must be '
                              'an integer >= 1.')
        super().__init__(num_features, **kwargs)
        self.num_splits = num_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` with per-group statistics in training mode.

        Args:
            x (torch.Tensor): ``(N, C, H, W)``, N a multiple of
                ``num_splits``.

        Returns:
            torch.Tensor: The normalised ``x``.
        """
        splits = self.num_splits
        if not self.training or splits == 1:
            return super().forward(x)
        n, c = x.shape[:2]
        if n % splits:
            raise ValueError(
                f'SplitBN: a batch of {n} does not split into {splits} '
                'groups; use a batch size (per process) that is a multiple '
                'of num_splits, and drop_last=True in the train loader.')
        track = self.track_running_stats
        momentum = self.momentum or 0.0
        if track:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average, as BatchNorm2d
                momentum = 1.0 / float(self.num_batches_tracked)
        mean = self.running_mean.repeat(splits) if track else None
        var = self.running_var.repeat(splits) if track else None
        out = F.batch_norm(
            x.reshape(n // splits, c * splits, *x.shape[2:]), mean, var,
            self.weight.repeat(splits) if self.affine else None,
            self.bias.repeat(splits) if self.affine else None, True,
            momentum, self.eps)
        if track:
            self.running_mean.copy_(mean.view(splits, c).mean(0))
            self.running_var.copy_(var.view(splits, c).mean(0))
        return out.view_as(x)

    def extra_repr(self) -> str:
        """The BatchNorm2d fields and ``num_splits``."""
        return f'{super().extra_repr()}, num_splits={self.num_splits}'
