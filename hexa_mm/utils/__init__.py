"""Utilities of hexa_mm."""
from .errors import (CheckpointError, ConfigError, DataError, NonFiniteError,
                     user_error)
from .setup_env import register_all_modules

__all__ = [
    'CheckpointError', 'ConfigError', 'DataError', 'NonFiniteError',
    'register_all_modules', 'user_error'
]
