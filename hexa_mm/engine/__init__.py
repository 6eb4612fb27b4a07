"""Engine of hexa_mm: runner and hooks."""
from .hooks import *  # noqa: F401,F403
from .checkpoint import refuse_unsafe_pickles
from .runner import HexaRunner

__all__ = ['HexaRunner', 'refuse_unsafe_pickles']
