"""Checkpoints that load with ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` unpickles only tensors, plain Python values and
allow-listed types, and mmengine 0.10.7 loads with plain ``torch.load``. A
checkpoint written by mmengine's ``Runner`` holds numpy arrays and scalars
(inside the message hub's ``HistoryBuffer`` objects, the ETA, metainfo), whose
pickles need ``numpy._core.multiarray._reconstruct``, ``numpy.dtype`` and, for
numpy 2 dtypes, ``builtins.getattr``: allow-listing those would let a hostile
file reach far more than numbers.

hexa_mm allow-lists nothing instead. :func:`to_weights_only` rewrites what a
runner is about to save into tensors and plain Python values, and
:func:`restore_history_buffers` rebuilds the message hub's history buffers
after loading. Anything else a file asks for is refused by torch before it is
built, and :func:`refuse_unsafe_pickles` turns that refusal into a one-line
:class:`~hexa_mm.utils.errors.CheckpointError`.
"""
import pickle
import re
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

from ..utils.errors import CheckpointError

__all__ = [
    'to_weights_only', 'restore_history_buffers', 'refuse_unsafe_pickles'
]

# The fields a ``HistoryBuffer`` is saved as.
_HISTORY_FIELDS = frozenset(('log_history', 'count_history', 'max_length'))


def _plain(obj: Any) -> Any:
    """Replace numpy values and history buffers in ``obj`` by plain ones.

    Numeric arrays become tensors of the same dtype and shape, other arrays
    lists, numpy scalars Python scalars, and a ``HistoryBuffer`` the dict of
    its fields (tensors). Dicts, ordered dicts, lists and tuples are walked;
    one that holds nothing to replace is returned as is, so large or
    annotated containers (a model's ``state_dict`` and its ``_metadata``) are
    neither copied nor altered.

    Args:
        obj (Any): A value about to be saved.

    Returns:
        Any: ``obj`` itself, or a copy without numpy objects.
    """
    if isinstance(obj, HistoryBuffer):
        log_history, count_history = obj.data
        return dict(
            log_history=torch.tensor(log_history),
            count_history=torch.tensor(count_history),
            max_length=obj.max_length)
    if isinstance(obj, np.ndarray):
        return torch.tensor(obj) if obj.dtype.kind in 'biufc' else obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if type(obj) in (dict, OrderedDict):
        keys = [_plain(key) for key in obj]
        values = [_plain(value) for value in obj.values()]
        if _same(keys, obj) and _same(values, obj.values()):
            return obj
        return type(obj)(zip(keys, values))
    if type(obj) in (list, tuple):
        values = [_plain(value) for value in obj]
        return obj if _same(values, obj) else type(obj)(values)
    return obj


def _same(new: Iterable, old: Iterable) -> bool:
    """Whether two sequences hold the very same objects.

    Args:
        new (Iterable): The values after :func:`_plain`.
        old (Iterable): The values before.

    Returns:
        bool: True if every value was returned as is.
    """
    return all(new_value is old_value
               for new_value, old_value in zip(new, old))


def to_weights_only(checkpoint: dict) -> None:
    """Make a checkpoint loadable by ``torch.load(weights_only=True)``.

    The runner calls this on the checkpoint it is about to save, after every
    ``before_save_checkpoint`` hook. Top-level entries are replaced, nested
    containers are copied where they change, so the objects the checkpoint
    was built from (metainfo of the dataset, ...) are left untouched.

    Args:
        checkpoint (dict): The checkpoint, changed in place.
    """
    for key, value in checkpoint.items():
        checkpoint[key] = _plain(value)


def restore_history_buffers(checkpoint: dict) -> None:
    """Rebuild the ``HistoryBuffer`` objects that :func:`to_weights_only` saved
    as dicts in ``checkpoint['message_hub']['log_scalars']``.

    Args:
        checkpoint (dict): A loaded checkpoint, changed in place. One without
            a message hub (a published model, say) is left as it is.
    """
    log_scalars = checkpoint.get('message_hub', {}).get('log_scalars', {})
    for key, value in log_scalars.items():
        if isinstance(value, dict) and value.keys() == _HISTORY_FIELDS:
            log_scalars[key] = HistoryBuffer(
                log_history=value['log_history'].numpy(),
                count_history=value['count_history'].numpy(),
                max_length=value['max_length'])


@contextmanager
def refuse_unsafe_pickles(filename: str) -> Iterator[None]:
    """Turn torch's weights-only refusal of ``filename`` into a
    :class:`CheckpointError` on one line that says why and what to do.

    Args:
        filename (str): The checkpoint being loaded inside the block.

    Yields:
        None: Load the checkpoint inside the block.

    Raises:
        CheckpointError: If the file's pickle could not be loaded with
            weights only, e.g. because it needs a global (a class or a
            function) that is not allow-listed.
    """
    try:
        yield
    except pickle.UnpicklingError as err:
        raise CheckpointError(
            f'Refused to load checkpoint {filename}: {_why(err)}. Checkpoints '
            'are loaded with torch.load(weights_only=True), which builds only '
            'tensors and plain Python values; if you trust this file, load '
            'it yourself and save again only its tensors and plain values '
            '(e.g. its "state_dict" and "meta"), or allow-list the type with '
            'torch.serialization.add_safe_globals.') from err


def _why(err: pickle.UnpicklingError) -> str:
    """Say in a few words why torch refused a checkpoint.

    Args:
        err (pickle.UnpicklingError): The error ``torch.load`` raised.

    Returns:
        str: The global the file needs, or the unpickler's own message.
    """
    message = str(err)
    match = re.search(r'GLOBAL (\S+)', message)
    if match:
        return f'it needs the not-allow-listed global {match.group(1)}'
    # torch puts the unpickler's message between its advice and a link to its
    # documentation, one paragraph each; a plain pickle error is one line.
    paragraphs = [' '.join(part.split()) for part in message.split('\n\n')]
    paragraphs = [part for part in paragraphs if part] or ['no details']
    return ('its pickle cannot be loaded with weights only '
            f'({paragraphs[len(paragraphs) // 2]})')
