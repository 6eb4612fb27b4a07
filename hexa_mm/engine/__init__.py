"""Engine of hexa_mm: runner, train loop and hooks."""
from .hooks import *  # noqa: F401,F403
from .checkpoint import load_weights_only, refuse_unsafe_pickles
from .cpu_amp_optim_wrapper import CPUAmpOptimWrapper
from .loops import ResumableEpochBasedTrainLoop
from .runner import HexaRunner

__all__ = [
    'CPUAmpOptimWrapper', 'HexaRunner', 'ResumableEpochBasedTrainLoop',
    'load_weights_only', 'refuse_unsafe_pickles'
]
