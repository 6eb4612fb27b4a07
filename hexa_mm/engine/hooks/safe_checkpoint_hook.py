"""Checkpoints that survive a kill, and a rolling one for preemption."""
import glob
import os
import os.path as osp
import time
from typing import Optional, Sequence

import torch
from mmengine.dist import broadcast, get_dist_info, is_main_process
from mmengine.hooks import CheckpointHook

from hexa_mm.registry import HOOKS
from hexa_mm.utils.atomic import TMP_PREFIX, atomic_path
from hexa_mm.utils.errors import ConfigError

__all__ = ['SafeCheckpointHook', 'checkpoint_due']

DATA_BATCH = Optional[Sequence[dict]]
LATEST = 'latest.pth'


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's :class:`~mmengine.hooks.CheckpointHook`, made safe to kill
    at any moment, plus a rolling ``latest.pth`` for preempted jobs.

    * **Order of a save**: the checkpoint is written to a temporary file
      beside it and renamed (``HexaRunner.save_checkpoint``), then
      ``last_checkpoint`` is replaced the same way, and only then are the
      checkpoints beyond ``max_keep_ckpts`` deleted. A kill at any moment
      leaves ``last_checkpoint`` naming a complete file (mmengine deletes the
      oldest checkpoint first and writes in place). Temporary files left by
      a killed save are removed when training starts.
    * **Latest**: every ``latest_interval`` iterations and every
      ``latest_minutes`` minutes (either may be None), ``latest.pth`` is
      replaced by the current state, in the middle of an epoch too; a run
      resumed from it continues inside the epoch (see
      :class:`~hexa_mm.engine.ResumableEpochBasedTrainLoop`). No latest
      save is made where a numbered checkpoint is saved anyway. In a
      distributed run process 0's clock decides, for every process.

    Args:
        latest_interval (int, optional): Iterations between latest saves.
            Defaults to None.
        latest_minutes (float, optional): Minutes between latest saves (any
            checkpoint resets the clock). Defaults to 30: a preempted job
            loses at most that, and saving a ResNet-50 checkpoint every half
            hour costs well under 1 % of the time.
        **kwargs: The arguments of mmengine's ``CheckpointHook``.
    """

    def __init__(self,
                 latest_interval: Optional[int] = None,
                 latest_minutes: Optional[float] = 30,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if latest_interval is not None and latest_interval < 1:
            raise ConfigError(f'SafeCheckpointHook: latest_interval='
                              f'{latest_interval} must be >= 1 or None.')
        if latest_minutes is not None and latest_minutes <= 0:
            raise ConfigError(f'SafeCheckpointHook: latest_minutes='
                              f'{latest_minutes} must be > 0 or None.')
        self.latest_interval = latest_interval
        self.latest_minutes = latest_minutes
        self._last_save = time.monotonic()
        self._latest_decided: Optional[tuple] = None

    def before_train(self, runner) -> None:
        """Prepare as mmengine does; remove temporary files of killed saves.

        Args:
            runner (Runner): The runner.
        """
        super().before_train(runner)
        self._last_save = time.monotonic()
        if not is_main_process() or '://' in str(self.out_dir):
            return
        for path in glob.glob(osp.join(self.out_dir, f'{TMP_PREFIX}*')):
            os.remove(path)
            runner.logger.warning(
                f'Removed {path}, left by a save that was interrupted.')

    def numbered_due(self, runner, by_epoch: bool) -> bool:
        """Whether mmengine's rule saves a numbered checkpoint now.

        Args:
            runner (Runner): The runner.
            by_epoch (bool): Asked after an epoch (True) or an iteration.

        Returns:
            bool: True if ``epoch_N.pth`` / ``iter_N.pth`` is saved.
        """
        return _numbered_due(self, runner, by_epoch)

    def latest_due(self, runner) -> bool:
        """Whether ``latest.pth`` is saved after this iteration.

        Decided once per iteration (and, with ``latest_minutes`` in a
        distributed run, broadcast from process 0: a collective call that
        every process makes at the same point).

        Args:
            runner (Runner): The runner.

        Returns:
            bool: True if it is.
        """
        if self._latest_decided is not None and \
                self._latest_decided[0] == runner.iter:
            return self._latest_decided[1]
        due = (
            self.latest_interval is not None
            and self.every_n_train_iters(runner, self.latest_interval))
        if self.latest_minutes is not None:
            elapsed = time.monotonic() - self._last_save
            late = torch.tensor([int(elapsed >= 60 * self.latest_minutes)])
            if get_dist_info()[1] > 1:
                broadcast(late, src=0)
            due = due or bool(late.item())
        end_of_epoch = (runner.iter + 1) % len(runner.train_dataloader) == 0
        # no latest save where a numbered checkpoint is saved anyway
        after_iter = self.numbered_due(runner, False)
        after_epoch = end_of_epoch and self.numbered_due(runner, True)
        due = due and not (after_iter or after_epoch)
        self._latest_decided = (runner.iter, due)
        return due

    def saves_after(self, runner, by_epoch: bool) -> bool:
        """Whether this hook saves after this iteration or epoch.

        Args:
            runner (Runner): The runner.
            by_epoch (bool): Asked after an epoch (True) or an iteration.

        Returns:
            bool: True if it does.
        """
        # decide the latest save in every call: it may be collective
        latest = not by_epoch and self.latest_due(runner)
        return self.numbered_due(runner, by_epoch) or latest

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Save a numbered checkpoint as mmengine does, or ``latest.pth``.

        Args:
            runner (Runner): The runner.
            batch_idx (int): The batch's index in the epoch.
            data_batch (Sequence[dict], optional): The batch.
            outputs (dict, optional): The model's outputs.
        """
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        if self.latest_due(runner):
            runner.logger.info(f'Saving {LATEST} at {runner.iter + 1} '
                               'iterations')
            self._save(
                runner,
                LATEST,
                meta=dict(epoch=runner.epoch, iter=runner.iter + 1),
                by_epoch=False)

    def _save_checkpoint_with_step(self, runner, step: int,
                                   meta: dict) -> None:
        """Save a numbered checkpoint; delete the oldest kept one only once
        the new one and ``last_checkpoint`` are complete.

        Args:
            runner (Runner): The runner.
            step (int): The epoch or iteration of the checkpoint.
            meta (dict): Its meta information.
        """
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        self._save(runner, self.filename_tmpl.format(step), meta,
                   self.by_epoch)
        if not is_main_process():
            return
        for old in stale:
            path = self.file_backend.join_path(self.out_dir,
                                               self.filename_tmpl.format(old))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                self.file_backend.rmtree(path)

    def _save(self, runner, filename: str, meta: dict, by_epoch: bool) -> None:
        """Save a checkpoint, then point ``last_checkpoint`` at it.

        Args:
            runner (Runner): The runner.
            filename (str): The checkpoint's name in ``out_dir``.
            meta (dict): Its meta information.
            by_epoch (bool): Whether it is saved after an epoch.
        """
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch,
            backend_args=self.backend_args,
            **self.args)
        self._last_save = time.monotonic()
        if not is_main_process():
            return
        with atomic_path(osp.join(runner.work_dir, 'last_checkpoint')) as tmp:
            with open(tmp, 'w') as f:
                f.write(self.last_ckpt)


def _numbered_due(hook: CheckpointHook, runner, by_epoch: bool) -> bool:
    """Whether a ``CheckpointHook`` saves a numbered checkpoint now (its own
    test, in ``after_train_epoch`` or ``after_train_iter``).

    Args:
        hook (CheckpointHook): The hook.
        runner (Runner): The runner.
        by_epoch (bool): Asked after an epoch (True) or an iteration.

    Returns:
        bool: True if it saves.
    """
    if hook.by_epoch != by_epoch:
        return False
    if by_epoch:
        return bool(
            hook.every_n_epochs(runner, hook.interval, hook.save_begin)
            or hook.save_last and hook.is_last_train_epoch(runner))
    return bool(
        hook.every_n_train_iters(runner, hook.interval, hook.save_begin)
        or hook.save_last and hook.is_last_train_iter(runner))


def checkpoint_due(runner, by_epoch: bool) -> bool:
    """Whether a checkpoint hook of the runner saves after this iteration
    (``by_epoch=False``) or this epoch.

    What a checkpoint holds of every process (DeepCluster's memory bank, the
    generator states) must be gathered, collectively, before process 0
    saves; this tells every process alike when.

    Args:
        runner (Runner): The runner.
        by_epoch (bool): Asked after an epoch (True) or an iteration.

    Returns:
        bool: True if one saves.
    """
    due = False
    for hook in runner.hooks:
        if isinstance(hook, SafeCheckpointHook):
            due = hook.saves_after(runner, by_epoch) or due
        elif isinstance(hook, CheckpointHook):
            due = _numbered_due(hook, runner, by_epoch) or due
    return due
