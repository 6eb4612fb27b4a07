"""Mixed precision on the CPU: bfloat16 autocast."""
from contextlib import contextmanager
from typing import Iterator, Optional, Union

import torch
from mmengine.optim import OptimWrapper
from torch import nn

from hexa_mm.registry import OPTIM_WRAPPERS
from ..utils.errors import ConfigError

__all__ = ['CPUAmpOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class CPUAmpOptimWrapper(OptimWrapper):
    """mmengine's :class:`~mmengine.optim.OptimWrapper` with the forward and
    loss under ``torch.autocast('cpu', dtype=torch.bfloat16)``.

    mmengine's ``AmpOptimWrapper`` needs CUDA (or NPU, MLU, MUSA); on the CPU
    autocast supports bfloat16 only, whose exponent range is float32's, so no
    loss scaling is needed: gradients and the optimizer step stay float32.
    :class:`~hexa_mm.engine.HexaRunner` uses this wrapper in place of an
    ``AmpOptimWrapper`` (e.g. from ``--amp``) when no accelerator is present
    and the CPU has native bfloat16 (:meth:`native_bfloat16`); elsewhere a
    config may still name it, and it runs, slowly.

    Args:
        dtype (str or torch.dtype, optional): ``'bfloat16'`` or None (the
            same); anything else is refused.
        loss_scale (str or float or dict, optional): Accepted for
            ``AmpOptimWrapper``'s configs and ignored: bfloat16 needs no loss
            scaling.
        **kwargs: Arguments of :class:`~mmengine.optim.OptimWrapper`.

    Raises:
        ConfigError: If ``dtype`` is not bfloat16.
    """

    def __init__(self,
                 dtype: Optional[Union[str, torch.dtype]] = None,
                 loss_scale: Optional[Union[str, float, dict]] = None,
                 **kwargs) -> None:
        if dtype not in (None, 'bfloat16', torch.bfloat16):
            raise ConfigError(
                f'optim_wrapper.dtype={dtype}: autocast on the CPU supports '
                'only bfloat16; remove dtype or set it to bfloat16')
        super().__init__(**kwargs)

    def load_state_dict(self, state_dict: dict) -> None:
        """Load the optimizer's state; drop an ``AmpOptimWrapper``'s loss
        scaler state (a checkpoint written with CUDA).

        Args:
            state_dict (dict): The wrapper's state dict.
        """
        state_dict = {
            key: value
            for key, value in state_dict.items() if key != 'loss_scaler'
        }
        super().load_state_dict(state_dict)

    @staticmethod
    def native_bfloat16() -> bool:
        """Whether this CPU computes in bfloat16 natively.

        Returns:
            bool: oneDNN's answer (AVX-512 or newer: True; AVX2: False,
            where bfloat16 convolutions are emulated, tens of times slower
            than float32).
        """
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())

    @contextmanager
    def optim_context(self, model: nn.Module) -> Iterator[None]:
        """mmengine's context (gradient accumulation), under bfloat16
        autocast.

        Args:
            model (nn.Module): The training model.

        Yields:
            None: Run the forward and the loss inside the block.
        """
        with super().optim_context(model), torch.autocast(
                device_type='cpu', dtype=torch.bfloat16):
            yield
