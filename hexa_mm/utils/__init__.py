"""Utilities of hexa_mm."""
from .errors import CheckpointError, ConfigError

__all__ = ['CheckpointError', 'ConfigError']
