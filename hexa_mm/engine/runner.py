"""HexaRunner: mmengine's runner, with CPU DDP and weights-only checkpoints."""
import datetime
from typing import Callable, Dict, Optional, Union

import torch
import torch.distributed as torch_dist
from mmengine.dist import is_distributed
from mmengine.model import is_model_wrapper
from mmengine.registry import MODEL_WRAPPERS
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.runner import Runner
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from hexa_mm.registry import RUNNERS
from .checkpoint import (refuse_unsafe_pickles, restore_history_buffers,
                         to_weights_only)

__all__ = ['HexaRunner']


@MMENGINE_RUNNERS.register_module()
@RUNNERS.register_module()
class HexaRunner(Runner):
    """mmengine's :class:`~mmengine.runner.Runner`, with two changes.

    1. **Distributed training without CUDA.** mmengine's ``init_dist`` picks a
       CUDA device unconditionally. When ``launcher`` is not ``'none'`` and
       CUDA is not available, this runner initialises the process group
       itself, with the gloo backend, from the environment torchrun sets
       (``env://``: ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
       ``MASTER_PORT``), whatever backend ``env_cfg.dist_cfg`` names, and
       wraps the model in ``MMDistributedDataParallel`` with
       ``device_ids=None``. With CUDA everything is mmengine's.
    2. **Checkpoints that load with weights only.** ``torch.load`` builds only
       tensors and plain Python values since torch 2.6, and mmengine's
       checkpoints hold numpy objects. What this runner saves is rewritten
       without them (see :mod:`hexa_mm.engine.checkpoint`), so
       ``resume`` and ``load_from`` work with nothing allow-listed, and a
       checkpoint that asks for anything else is refused with a
       :class:`~hexa_mm.utils.errors.CheckpointError`.

    Configs choose it with ``runner_type='hexa_mm.HexaRunner'``, which any
    entry point resolves through mmengine's ``RUNNERS`` (mmengine imports
    :mod:`hexa_mm.registry` on meeting the scope). It is registered in
    mmengine's ``RUNNERS`` as well, so ``runner_type='HexaRunner'`` resolves
    once hexa_mm is imported (``custom_imports=dict(imports=['hexa_mm'])``):
    mmengine looks the runner up before any default scope exists. The
    arguments are those of :class:`~mmengine.runner.Runner`.
    """

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
                ``timeout`` (seconds) of its ``dist_cfg`` is honoured, its
                ``backend`` is replaced by gloo when CUDA is not available.
        """
        if self._distributed_without_cuda() and not is_distributed():
            timeout = env_cfg.get('dist_cfg', {}).get('timeout')
            kwargs = {} if timeout is None else dict(
                timeout=datetime.timedelta(seconds=timeout))
            torch_dist.init_process_group(
                backend='gloo', init_method='env://', **kwargs)
        super().setup_env(env_cfg)

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
        return super().wrap_model(model_wrapper_cfg, model)

    def call_hook(self, fn_name: str, **kwargs) -> None:
        """Call the hooks' ``fn_name``; keep checkpoints free of numpy.

        A checkpoint about to be saved is rewritten with
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
            to_weights_only(kwargs['checkpoint'])

    def load_checkpoint(self,
                        filename: str,
                        map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False,
                        revise_keys: list = [(r'^module.', '')]) -> dict:
        """Load a checkpoint with weights only, as mmengine does; refuse one
        that needs more with a one-line error.

        ``resume`` and ``load_from`` both come through here.

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
            CheckpointError: If the file's pickle needs a global (a class or
                a function) that is not allow-listed.
        """
        with refuse_unsafe_pickles(filename):
            return super().load_checkpoint(filename, map_location, strict,
                                           revise_keys)
