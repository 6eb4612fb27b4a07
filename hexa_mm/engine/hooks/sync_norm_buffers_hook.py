"""Average the batch-norm statistics of all ranks before they are used."""
from typing import Dict

import torch
from mmengine.dist import all_reduce_params
from mmengine.hooks import SyncBuffersHook
from mmengine.model import is_model_wrapper
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hexa_mm.registry import HOOKS

__all__ = ['SyncNormBuffersHook', 'norm_statistics']


def norm_statistics(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The running means and variances of a model's batch norms.

    Args:
        model (nn.Module): The model (unwrapped).

    Returns:
        dict[str, torch.Tensor]: The buffers, by their ``state_dict`` key.
    """
    stats = {}
    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm) and module.track_running_stats:
            prefix = f'{name}.' if name else ''
            stats[f'{prefix}running_mean'] = module.running_mean
            stats[f'{prefix}running_var'] = module.running_var
    return stats


@HOOKS.register_module()
class SyncNormBuffersHook(SyncBuffersHook):
    """mmengine's :class:`~mmengine.hooks.SyncBuffersHook`, for batch-norm
    statistics only, and before every checkpoint too.

    Under DDP with ``broadcast_buffers=False`` (mmengine's default wrapper)
    every rank keeps the batch-norm statistics of its own batches. Without
    this hook the checkpoint holds rank 0's, while every rank scores its share
    of the validation set with its own: the online kNN monitor and an offline
    evaluation of the saved weights disagree. This hook averages the running
    means and variances over the ranks after every training epoch, before
    every validation that does not follow one, and before every checkpoint
    (e.g. one saved every N iterations), whose copy of them it updates.

    Only these statistics are averaged: other buffers (a MoCo queue, a
    DeepCluster memory bank or its assignments) are the algorithm's own
    business. Every rank must call ``before_save_checkpoint``, as mmengine's
    runner does. Outside distributed runs the hook does nothing. Training
    itself does not read these statistics (batch norms in training mode use
    the batch's), so the losses are unchanged.
    """

    def _sync(self, runner) -> Dict[str, torch.Tensor]:
        """Average the statistics over the ranks, in place.

        Args:
            runner (Runner): The runner.

        Returns:
            dict[str, torch.Tensor]: The averaged buffers, by their
            ``state_dict`` key.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        stats = norm_statistics(model)
        if self.distributed and stats:
            all_reduce_params(list(stats.values()), op='mean')
        return stats

    def before_val_epoch(self, runner) -> None:
        """Average the statistics unless the last training epoch did.

        Args:
            runner (Runner): The runner.
        """
        if not self.called_in_train:
            self._sync(runner)
        self.called_in_train = False

    def after_train_epoch(self, runner) -> None:
        """Average the statistics.

        Args:
            runner (Runner): The runner.
        """
        self._sync(runner)
        self.called_in_train = True

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Average the statistics and put them in the checkpoint.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint about to be saved.
        """
        if not self.distributed:
            return
        state_dict = checkpoint.get('state_dict', {})
        for key, value in self._sync(runner).items():
            if key in state_dict:
                state_dict[key] = value.detach().cpu()
