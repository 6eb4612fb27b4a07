"""Keep the batch-norm statistics of all ranks equal."""
from typing import Dict, Optional

import torch
from mmengine.dist import all_reduce_params, is_distributed
from mmengine.hooks import Hook
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
class SyncNormBuffersHook(Hook):
    """Average the batch-norm statistics over the ranks after every training
    iteration and before every validation.

    Under DDP with ``broadcast_buffers=False`` (mmengine's default wrapper)
    every rank keeps the batch-norm statistics of its own batches: the
    checkpoint holds rank 0's, while every rank scores its share of the
    validation set with its own, so the online kNN monitor and an offline
    evaluation of the saved weights disagree. mmengine's
    :class:`~mmengine.hooks.SyncBuffersHook` averages *every* buffer, once an
    epoch; this hook averages only the running means and variances (a MoCo
    queue, a DeepCluster memory bank or its assignments are the algorithm's
    own business), after every iteration, so that they agree whenever
    anything saves or validates (an iteration-based or time-based checkpoint
    included, which only rank 0 may write). The running statistics are
    exponential averages, linear in the batch statistics: averaging after
    every iteration ends where averaging once at the end would, and training
    does not read them (batch norms in training mode use the batch's), so
    the losses are unchanged. The cost is one small all-reduce per
    iteration. Outside distributed runs the hook does nothing.
    """

    priority = 'NORMAL'

    def _sync(self, runner) -> None:
        """Average the statistics over the ranks, in place.

        Args:
            runner (Runner): The runner.
        """
        if not is_distributed():
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        stats = norm_statistics(model)
        if stats:
            all_reduce_params(list(stats.values()), op='mean')

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        """Average the statistics.

        Args:
            runner (Runner): The runner.
            batch_idx (int): The index of the batch in the epoch.
            data_batch (dict, optional): The batch.
            outputs (dict, optional): The model's outputs.
        """
        self._sync(runner)

    def before_val_epoch(self, runner) -> None:
        """Average the statistics (e.g. for a validation without training).

        Args:
            runner (Runner): The runner.
        """
        self._sync(runner)
