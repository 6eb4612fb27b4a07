"""Stop a run whose loss is no longer finite, before it saves garbage."""
import math
import os.path as osp
from typing import Dict, Optional, Sequence

import torch
from mmengine.dist import all_reduce, get_dist_info
from mmengine.hooks import Hook

from hexa_mm.registry import HOOKS
from hexa_mm.utils.errors import NonFiniteError

__all__ = ['FiniteLossHook']

DATA_BATCH = Optional[Sequence[dict]]


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first iteration whose loss is not finite.

    After every iteration, before any checkpoint hook saves, every logged
    loss term is checked (on every process; one process's NaN stops them
    all). A non-finite one raises
    :class:`~hexa_mm.utils.errors.NonFiniteError`, on one line naming the
    iteration, the terms and the last checkpoint, which is kept as it is.
    A checkpoint about to be saved whose weights are not all finite is
    refused the same way.

    It is one of hexa_mm's default hooks (``default_hooks.finite_loss``);
    set that to None to train on whatever the loss becomes.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Check the loss terms of this iteration, the entries of
        ``outputs`` (the logged losses) named ``*loss*`` (of mmengine's
        arguments, ``outputs`` and ``runner`` are used)."""
        losses = {
            name:
            float(value.detach()) if torch.is_tensor(value) else float(value)
            for name, value in (outputs or {}).items() if 'loss' in name
        }
        bad = {
            name: value
            for name, value in losses.items() if not math.isfinite(value)
        }
        flag = torch.tensor([float(bool(bad))])
        if get_dist_info()[1] > 1:
            all_reduce(flag, op='max')
        if not flag.item():
            return
        terms = ', '.join(f'{name}={value}' for name, value in bad.items())
        raise NonFiniteError(
            f'the loss is not finite at iteration {runner.iter + 1} (epoch '
            f'{runner.epoch + 1}; {terms or "on another process"}): training '
            f'stopped; {self._kept(runner)}: lower the learning rate '
            '(optim_wrapper.optimizer.lr) or clip the gradients '
            '(optim_wrapper.clip_grad)')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Refuse to save weights that are not all finite.

        Args:
            runner (Runner): The runner.
            checkpoint (dict): The checkpoint about to be saved.
        """
        bad = [
            name for name, value in checkpoint.get('state_dict', {}).items()
            if torch.is_tensor(value) and value.is_floating_point()
            and not bool(torch.isfinite(value).all())
        ]
        if bad:
            raise NonFiniteError(
                f'{len(bad)} weights are not finite at iteration '
                f'{runner.iter + 1} (e.g. {bad[0]}): the checkpoint is not '
                f'saved; {self._kept(runner)}: lower the learning rate or '
                'clip the gradients (optim_wrapper.clip_grad)')

    @staticmethod
    def _kept(runner) -> str:
        """Say which checkpoint is kept.

        Args:
            runner (Runner): The runner.

        Returns:
            str: E.g. ``'the last checkpoint, work_dir/epoch_1.pth, is
            kept'``.
        """
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            return 'no checkpoint was saved'
        with open(pointer) as f:
            return f'the last checkpoint, {f.read().strip()}, is kept'
