"""HexaRunner: mmengine's runner, with CPU DDP, weights-only checkpoints and
runs that lose nothing."""
import datetime
import functools
import os
import os.path as osp
from typing import Any, Callable, Dict, List, Optional, Union

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import broadcast_object_list, is_distributed, master_only
from mmengine.hooks import Hook, SyncBuffersHook
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict
from mmengine.registry import MODEL_WRAPPERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import (_load_checkpoint,
                                        _load_checkpoint_to_model)
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hexa_mm.registry import RUNNERS
from hexa_mm.utils.atomic import atomic_path
from hexa_mm.utils.errors import ConfigError
from .checkpoint import (check_fits, restore_history_buffers,
                         revised_state_dict, to_weights_only)
from .config_text import FormatOnceConfig
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .dist_env import gloo_env
from .hooks import SyncNormBuffersHook
from .work_dir import (check_work_dir, find_resumable, lock_work_dir,
                       unlock_work_dir)

__all__ = ['HexaRunner']


def _holding_work_dir(method: Callable) -> Callable:
    """Make a runner method hold the work dir while it runs.

    Args:
        method (Callable): mmengine's ``Runner.train``, ``val`` or ``test``.

    Returns:
        Callable: The method, which first locks the work dir (unless this
        process holds it already) and unlocks it when it ends, however it
        ends.
    """

    @functools.wraps(method)
    def holding(runner: 'HexaRunner', *args, **kwargs) -> Any:
        runner._lock_work_dir()
        try:
            return method(runner, *args, **kwargs)
        finally:
            unlock_work_dir(runner.work_dir)

    return holding


@MMENGINE_RUNNERS.register_module()
@RUNNERS.register_module()
class HexaRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner`, with these changes.

    1. **Distributed training without CUDA.** mmengine's ``init_dist`` picks a
       CUDA device unconditionally. When ``launcher`` is not ``'none'`` and
       CUDA is not available, this runner initialises the process group
       itself, with the gloo backend, through ``env://`` (torchrun's
       ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; derived
       from Slurm's or Open MPI's variables for those launchers, see
       :mod:`hexa_mm.engine.dist_env`), whatever backend
       ``env_cfg.dist_cfg`` names; a missing variable is a one-line
       :class:`~hexa_mm.utils.errors.ConfigError`. It reverts SyncBN layers
       (which need CUDA) to plain batch norms and wraps the model in
       ``MMDistributedDataParallel`` with ``device_ids=None``. With CUDA
       everything is mmengine's.
    2. **Batch-norm statistics averaged over the ranks** after every
       iteration and before validation (:class:`SyncNormBuffersHook`, added
       to every distributed run that has no ``SyncBuffersHook``), so that
       the online kNN monitor scores the weights that are saved.
    3. **Mixed precision without an accelerator.** An ``AmpOptimWrapper``
       (``--amp``) becomes a :class:`CPUAmpOptimWrapper` (bfloat16
       autocast) on a CPU with native bfloat16, and is refused in one line
       on one without, where mmengine's would stop with an assertion.
    4. **Checkpoints that load with weights only.** ``torch.load`` builds only
       tensors and plain Python values since torch 2.6, and mmengine's
       checkpoints hold numpy objects. What this runner saves is rewritten
       without them (see :mod:`hexa_mm.engine.checkpoint`), so
       ``resume`` and ``load_from`` work with nothing allow-listed, and a
       checkpoint that asks for anything else is refused with a
       :class:`~hexa_mm.utils.errors.CheckpointError`.
    5. **Runs that lose nothing.**

       * The work dir is checked (a folder that can be written to) before
         anything is written, and locked while the run builds and trains
         (or validates, or tests): a second run into it is refused
         (:mod:`hexa_mm.engine.work_dir`).
       * A checkpoint is written to a temporary file and renamed, so a kill
         never leaves a torn one.
       * ``load_from`` refuses weights that do not fit the model's backbone,
         ``resume`` those that do not fit the whole model (another
         architecture, queue length, number of prototypes...); see
         :func:`~hexa_mm.engine.checkpoint.check_fits`.
       * Auto-resume (``resume=True`` without ``load_from``) continues from
         the checkpoint ``last_checkpoint`` names, else from the newest
         checkpoint in the work dir, else starts from scratch and says so.
       * Checkpoints hold the train loop's state
         (:class:`~hexa_mm.engine.ResumableEpochBasedTrainLoop`: every
         process's random generators, under ``loop_state``), which a resumed
         run puts back.

    Configs choose it with ``runner_type='hexa_mm.HexaRunner'``, which any
    entry point resolves through mmengine's ``RUNNERS`` (mmengine imports
    :mod:`hexa_mm.registry` on meeting the scope). It is registered in
    mmengine's ``RUNNERS`` as well, so ``runner_type='HexaRunner'`` resolves
    once hexa_mm is imported (``custom_imports=dict(imports=['hexa_mm'])``):
    mmengine looks the runner up before any default scope exists. The
    arguments are those of :class:`~mmengine.runner.Runner`.
    """

    def __init__(self, model, work_dir: str, *args, **kwargs) -> None:
        check_work_dir(work_dir)
        self._resuming = False
        if isinstance(kwargs.get('cfg'), Config):
            # its text is read on every checkpoint: format it once
            kwargs['cfg'] = FormatOnceConfig.of(kwargs['cfg'])
        super().__init__(model, work_dir, *args, **kwargs)

    def _distributed_without_cuda(self) -> bool:
        """Whether this is a distributed run on a machine without CUDA.

        Returns:
            bool: True if ``launcher`` is not ``'none'`` and CUDA is not
            available.
        """
        return self.distributed and not torch.cuda.is_available()

    def setup_env(self, env_cfg: Dict) -> None:
        """Set up the environment; without CUDA, start gloo first.

        mmengine initialises the process group only if none exists, so the
        one started here is kept.

        Args:
            env_cfg (dict): Config for setting the environment; the
                ``timeout`` (seconds) and ``port`` of its ``dist_cfg`` are
                honoured, its ``backend`` is replaced by gloo when CUDA is
                not available.

        Raises:
            ConfigError: If the launcher's variables are missing (e.g.
                ``--launcher pytorch`` without torchrun).
        """
        if self._distributed_without_cuda() and not is_distributed():
            dist_cfg = env_cfg.get('dist_cfg', {})
            os.environ.update(
                gloo_env(self.launcher, os.environ, dist_cfg.get('port')))
            timeout = dist_cfg.get('timeout')
            kwargs = {} if timeout is None else dict(
                timeout=datetime.timedelta(seconds=timeout))
            torch_dist.init_process_group(
                backend='gloo', init_method='env://', **kwargs)
        super().setup_env(env_cfg)
        self._lock_work_dir()

    def _lock_work_dir(self) -> None:
        """Lock the work dir for this run, if this process does not hold it
        yet (process 0 takes the lock; every process learns whether it got
        it).

        Raises:
            ConfigError: If another run holds it.
        """
        outcome = [None]
        if self.rank == 0:
            try:
                lock_work_dir(self.work_dir)
            except ConfigError as err:
                outcome = [str(err)]
        if self.world_size > 1:
            broadcast_object_list(outcome)
        if outcome[0] is not None:
            raise ConfigError(outcome[0])

    train = _holding_work_dir(Runner.train)
    val = _holding_work_dir(Runner.val)
    test = _holding_work_dir(Runner.test)

    def _cpu_wrapper_cfg(self, model_wrapper_cfg: Optional[Dict]) -> Dict:
        """The wrapper config of a distributed run without CUDA.

        Args:
            model_wrapper_cfg (dict, optional): The configured one; not
                changed.

        Returns:
            dict: mmengine's default wrapper when ``model_wrapper_cfg`` is
            None (``MMDistributedDataParallel``, ``broadcast_buffers=False``,
            ``find_unused_parameters`` from the config), else a copy of it;
            in either case ``device_ids`` defaults to None for a subclass of
            ``DistributedDataParallel``.
        """
        if model_wrapper_cfg is None:
            wrapper_cfg = dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                    False))
        else:
            wrapper_cfg = dict(model_wrapper_cfg)
            wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
        if issubclass(
                MODEL_WRAPPERS.get(wrapper_cfg['type']),
                DistributedDataParallel):
            wrapper_cfg.setdefault('device_ids', None)
        return wrapper_cfg

    def wrap_model(
            self, model_wrapper_cfg: Optional[Dict],
            model: nn.Module) -> Union[DistributedDataParallel, nn.Module]:
        """Wrap the model for distributed training; without CUDA, in a DDP
        that keeps the model on the CPU (``device_ids=None``).

        Args:
            model_wrapper_cfg (dict, optional): Config of the wrapper, as for
                mmengine; without CUDA, see :meth:`_cpu_wrapper_cfg`.
            model (nn.Module): The model to wrap.

        Returns:
            nn.Module or DistributedDataParallel: The wrapped model, or the
            model itself when not distributed.
        """
        if self._distributed_without_cuda():
            self.logger.info(
                'CUDA is not available: distributed training uses the gloo '
                'backend and DistributedDataParallel with device_ids=None.')
            if not is_model_wrapper(model):
                model_wrapper_cfg = self._cpu_wrapper_cfg(model_wrapper_cfg)
                model = self._revert_sync_bn(model)
        return super().wrap_model(model_wrapper_cfg, model)

    def _revert_sync_bn(self, model: nn.Module) -> nn.Module:
        """Revert SyncBN layers to batch norms, which run without CUDA.

        Args:
            model (nn.Module): The model of a distributed run without CUDA.

        Returns:
            nn.Module: The model, its ``SyncBatchNorm`` layers (torch's or
            mmcv's) replaced by batch norms with the same parameters and
            statistics.
        """
        count = sum(
            type(module).__name__ == 'SyncBatchNorm'
            for module in model.modules())
        if count:
            self.logger.info(
                f'CUDA is not available: {count} SyncBN layers run as BN '
                '(each process normalises with its own batch).')
        return revert_sync_batchnorm(model)

    def register_hooks(
            self,
            default_hooks: Optional[Dict[str, Union[Hook, Dict]]] = None,
            custom_hooks: Optional[List[Union[Hook, Dict]]] = None) -> None:
        """Register the hooks, as mmengine does; in a distributed run with
        neither a ``SyncBuffersHook`` nor a :class:`SyncNormBuffersHook`, add
        the latter.

        Args:
            default_hooks (dict, optional): The default hooks.
            custom_hooks (list, optional): The custom hooks.
        """
        super().register_hooks(default_hooks, custom_hooks)
        if self.distributed and not any(
                isinstance(hook, (SyncBuffersHook, SyncNormBuffersHook))
                for hook in self.hooks):
            self.register_hook(SyncNormBuffersHook())

    def build_optim_wrapper(
        self, optim_wrapper: Union[torch.optim.Optimizer, OptimWrapper, Dict]
    ) -> Union[OptimWrapper, OptimWrapperDict]:
        """Build the optimizer wrapper; on the CPU, an ``AmpOptimWrapper``
        config builds a :class:`CPUAmpOptimWrapper` (bfloat16 autocast) if
        the CPU computes in bfloat16 natively.

        Args:
            optim_wrapper (Optimizer or OptimWrapper or dict): As for
                mmengine.

        Returns:
            OptimWrapper or OptimWrapperDict: The wrapper.

        Raises:
            ConfigError: For an ``AmpOptimWrapper`` on a CPU without native
                bfloat16, where autocast would make training many times
                slower (``tools/analysis/benchmark_cpu_amp.py`` measures it).
        """
        if (isinstance(optim_wrapper, dict) and get_device() == 'cpu'
                and optim_wrapper.get('type')
                in ('AmpOptimWrapper', AmpOptimWrapper)):
            if not CPUAmpOptimWrapper.native_bfloat16():
                raise ConfigError(
                    '--amp (AmpOptimWrapper) without a GPU runs bfloat16 '
                    'autocast on the CPU, and this CPU has no native '
                    'bfloat16: training would be many times slower '
                    '(tools/analysis/benchmark_cpu_amp.py). Train without '
                    '--amp, or set optim_wrapper.type=CPUAmpOptimWrapper to '
                    'run it anyway')
            self.logger.info(
                'No GPU: mixed precision (AmpOptimWrapper) runs as bfloat16 '
                'autocast on the CPU (CPUAmpOptimWrapper, no loss scaling).')
            optim_wrapper = dict(optim_wrapper, type=CPUAmpOptimWrapper)
        return super().build_optim_wrapper(optim_wrapper)

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """Call the hooks' ``fn_name``; keep checkpoints free of numpy and
        add the train loop's state.

        A checkpoint about to be saved gets the train loop's state (see
        :meth:`_add_loop_state`) and is rewritten with
        :func:`to_weights_only` after every ``before_save_checkpoint`` hook
        (so what hooks add is covered too); a loaded one gets its history
        buffers back with :func:`restore_history_buffers` before any
        ``after_load_checkpoint`` hook sees it.

        Args:
            fn_name (str): The name of the hook method.
            **kwargs: Arguments of the hook method.
        """
        if fn_name == 'after_load_checkpoint':
            restore_history_buffers(kwargs['checkpoint'])
        super().call_hook(fn_name, **kwargs)
        if fn_name == 'before_save_checkpoint':
            self._add_loop_state(kwargs['checkpoint'])
            to_weights_only(kwargs['checkpoint'])

    def _add_loop_state(self, checkpoint: dict) -> None:
        """Put the train loop's state in a checkpoint, if it has one.

        Args:
            checkpoint (dict): The checkpoint about to be saved.
        """
        state_dict = getattr(self._train_loop, 'state_dict', None)
        if callable(state_dict):
            checkpoint['loop_state'] = state_dict()

    def load_or_resume(self) -> None:
        """Load or resume as mmengine does; auto-resume finds the checkpoint
        with :func:`~hexa_mm.engine.work_dir.find_resumable` and, with none,
        starts from scratch, deleting nothing, and says so."""
        if not self._has_loaded and self._resume and self._load_from is None:
            found = find_resumable(self.work_dir)
            if found is None:
                self.logger.warning(
                    f'Nothing to resume in {self.work_dir} (no '
                    'last_checkpoint, no checkpoint file): training starts '
                    'from scratch.')
                self._resume = False
            else:
                self.logger.info(f'Auto-resuming from {found}.')
                self._load_from = found
        super().load_or_resume()

    def resume(self, filename: str, *args, **kwargs) -> None:
        """Resume as mmengine does; the checkpoint must fit the whole model
        (see :meth:`load_checkpoint`).

        Args:
            filename (str): The checkpoint.
            *args: The other arguments of mmengine's ``resume``.
            **kwargs: The other arguments of mmengine's ``resume``.
        """
        self._resuming = True
        try:
            super().resume(filename, *args, **kwargs)
        finally:
            self._resuming = False

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """Load a checkpoint with weights only; refuse one that needs more,
        or that does not fit the model, with a one-line error.

        ``resume`` and ``load_from`` both come through here. The file is read
        by :func:`~hexa_mm.engine.checkpoint.load_weights_only` (mmengine's
        loader of local files and URLs once hexa_mm is imported). For
        ``load_from`` the backbone must fit; for ``resume`` the whole model,
        and the train loop takes the checkpoint's ``loop_state``.

        Args:
            filename (str): Local path, URL, ``torchvision://xxx`` or
                ``open-mmlab://xxx``.
            map_location (str or callable): How to remap storage locations.
                Defaults to 'cpu'.
            strict (bool): Whether the model and the checkpoint must have
                the same parameters. Defaults to False.
            revise_keys (list): ``(pattern, replacement)`` pairs applied to
                the keys of the state dict. Defaults to stripping the prefix
                ``module.``.

        Returns:
            dict: The loaded checkpoint.

        Raises:
            CheckpointError: If the file cannot be loaded with weights only
                (the message names the global it needs) or does not fit.
        """
        checkpoint = _load_checkpoint(filename, map_location=map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        check_fits(model, revised_state_dict(checkpoint, revise_keys),
                   filename, '' if self._resuming else 'backbone.')
        if self._resuming:
            self._load_loop_state(checkpoint)
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    def _load_loop_state(self, checkpoint: dict) -> None:
        """Give the train loop the state a resumed checkpoint holds.

        Args:
            checkpoint (dict): The checkpoint.
        """
        load_state_dict = getattr(self.train_loop, 'load_state_dict', None)
        if callable(load_state_dict):
            load_state_dict(checkpoint.get('loop_state'))

    @master_only
    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Save a checkpoint as mmengine does, to a temporary file renamed
        once complete (local files; other back ends as mmengine does).

        Args:
            out_dir (str): The folder.
            filename (str): The file name.
            file_client_args (dict, optional): Deprecated by mmengine.
            save_optimizer (bool): Save the optimizer. Defaults to True.
            save_param_scheduler (bool): Save the parameter schedulers.
                Defaults to True.
            meta (dict, optional): Meta information to save.
            by_epoch (bool): Saved after an epoch. Defaults to True.
            backend_args (dict, optional): File back end arguments.
        """
        if file_client_args is not None or backend_args is not None or \
                '://' in str(out_dir):
            return super().save_checkpoint(out_dir, filename, file_client_args,
                                           save_optimizer,
                                           save_param_scheduler, meta,
                                           by_epoch, backend_args)
        with atomic_path(osp.join(out_dir, filename)) as tmp:
            super().save_checkpoint(
                osp.dirname(tmp),
                osp.basename(tmp),
                save_optimizer=save_optimizer,
                save_param_scheduler=save_param_scheduler,
                meta=meta,
                by_epoch=by_epoch)
