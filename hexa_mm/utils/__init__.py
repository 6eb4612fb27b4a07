"""Utilities of hexa_mm."""
from .errors import CheckpointError, ConfigError
from .setup_env import register_all_modules

__all__ = ['CheckpointError', 'ConfigError', 'register_all_modules']
