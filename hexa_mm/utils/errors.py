"""Errors a user can fix; the tools print them on one line."""
import functools
import re
import sys
from typing import Callable, Iterable, Optional, Sequence, Tuple

from .gc_freeze import freeze_imported_objects


class ConfigError(ValueError):
    """A config, input or file the user can fix; the message says how."""


class CheckpointError(ConfigError):
    """A checkpoint that cannot or must not be loaded; names the file."""


class DataError(ConfigError):
    """A sample that cannot be loaded; names it (and its file)."""


class NonFiniteError(ConfigError):
    """A loss or weights that are no longer finite: a diverged run."""


def check_positive(owner: str, **values: float) -> None:
    """Refuse configured values that are not > 0.

    Args:
        owner (str): Who is configured, for the message (a class name).
        **values (float): The values, by their config key.

    Raises:
        ConfigError: Naming the first value that is not > 0.
    """
    for name, value in values.items():
        if not value > 0:
            raise ConfigError(f'{owner}: {name}={value} must be > 0.')


def distinct_indices(owner: str, name: str, indices: Sequence[int],
                     what: str) -> Tuple[int, ...]:
    """Configured indices, refused unless they are distinct and >= 0.

    Args:
        owner (str): Who is configured, for the message (a class name).
        name (str): The config key.
        indices (Sequence[int]): Its value.
        what (str): What the indices index, for the message (e.g.
            ``'view indices'``).

    Returns:
        tuple[int, ...]: The indices, as ints.

    Raises:
        ConfigError: If there are none, or one is negative or repeated.
    """
    indices = tuple(int(i) for i in indices)
    if not indices or min(indices) < 0 or len(set(indices)) != len(indices):
        raise ConfigError(
            f'{owner}: {name}={indices} must be distinct {what} >= 0.')
    return indices


def first_few(names: Iterable, most: int) -> str:
    """Names for a one-line message: the first few, comma-separated.

    Args:
        names (Iterable): The names (each shown as ``str``).
        most (int): How many to show.

    Returns:
        str: E.g. ``'a, b, c, ...'``, where ``', ...'`` says that some are
        left out; ``''`` for no names.
    """
    names = [str(name) for name in names]
    return ', '.join(names[:most]) + (', ...' if len(names) > most else '')


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


def tool_main(main: Callable[..., Optional[int]]) -> Callable[..., int]:
    """Make a tool's ``main`` end a user error with one line (and start
    with :func:`~hexa_mm.utils.gc_freeze.freeze_imported_objects`).

    An error :func:`user_error` recognises is printed as ``error: ...`` on
    stderr and the decorated ``main`` returns 2; any other error is a bug
    and propagates with its traceback. Tools call
    ``sys.exit(main())``.

    Args:
        main (Callable): The tool's main function; it returns an exit
            status or None (0).

    Returns:
        Callable: ``main``, returning 0, its own status, or 2.
    """

    @functools.wraps(main)
    def wrapper(*args, **kwargs) -> int:
        freeze_imported_objects()
        try:
            status = main(*args, **kwargs)
        except Exception as err:  # a user error, or a bug to re-raise
            message = user_error(err)
            if message is None:
                raise
            print(f'error: {message}', file=sys.stderr)
            return 2
        return 0 if status is None else status

    return wrapper
