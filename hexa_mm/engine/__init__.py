"""Engine of hexa_mm: runner and hooks."""
from .hooks import *  # noqa: F401,F403
from .runner import HexaRunner

__all__ = ['HexaRunner']
