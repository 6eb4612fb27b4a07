"""Utilities of hexa_mm: leaves that import nothing of the package but each
other (errors, atomic writes, data file checks)."""
from .errors import (CheckpointError, ConfigError, DataError, NonFiniteError,
                     check_positive, distinct_indices, tool_main, user_error)

__all__ = [
    'CheckpointError', 'ConfigError', 'DataError', 'NonFiniteError',
    'check_positive', 'distinct_indices', 'tool_main', 'user_error'
]
