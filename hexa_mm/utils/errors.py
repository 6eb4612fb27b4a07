"""Errors a user can fix; the tools print them on one line."""
import re
from typing import Optional


class ConfigError(ValueError):
    """A config, input or file the user can fix; the message says how."""


class CheckpointError(ConfigError):
    """A checkpoint that cannot or must not be loaded; names the file."""


class DataError(ConfigError):
    """A sample that cannot be loaded; names it (and its file)."""


class NonFiniteError(ConfigError):
    """A loss or weights that are no longer finite: a diverged run."""


def user_error(err: BaseException) -> Optional[str]:
    """The one-line message of an error the user can fix, or None for a bug.

    Besides hexa_mm's own errors (also when a data loader worker raised
    them), these are the user's: a missing file, a config with a syntax
    error, an unknown ``type`` (a registry miss) and a key the built class
    does not take.

    Args:
        err (BaseException): The error that stopped a tool.

    Returns:
        str, optional: The message, on one line, without the ``error:``
        prefix; None if the error is not one of those.
    """
    message = str(err.args[0]) if isinstance(err, KeyError) and err.args \
        else str(err)
    if isinstance(err, ConfigError):
        if '\nOriginal Traceback' in message:  # raised in a data worker
            message = message.strip().splitlines()[-1].split(': ', 1)[-1]
    elif isinstance(err, (FileNotFoundError, SyntaxError)):
        pass
    elif isinstance(err, KeyError) and ' registry' in message:
        message = (f'unknown type: {message.split(". ")[0]}: check its '
                   'spelling, or import the module that registers it '
                   '(custom_imports)')
    elif isinstance(err, TypeError) and re.search(
            r'unexpected keyword argument|required positional argument',
            message):
        message = (f'{message}: check the spelling of the config keys of '
                   'this class')
    else:
        return None
    return ' '.join(message.split())
