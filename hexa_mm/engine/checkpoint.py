"""Checkpoints that load with ``torch.load(weights_only=True)``, and the one
loader of hexa_mm.

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
:class:`~hexa_mm.utils.errors.CheckpointError` that names the global.

:func:`load_weights_only` is the one place where hexa_mm and its tools read a
checkpoint file. It passes ``weights_only=True`` explicitly, so the
environment (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1``) cannot turn it off, and
it is registered as mmengine's loader of local files and of ``http(s)://``
URLs, so mmengine's ``load_checkpoint``, the runner's ``load_from`` and
``resume`` and the ``Pretrained`` initialiser of downstream backbones go
through it too.
"""
import os
import os.path as osp
import pickle
import pickletools
import re
import zipfile
from collections import OrderedDict
from contextlib import contextmanager
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Tuple, Union)

import numpy as np
import torch
from mmengine.dist import barrier, get_dist_info
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader
from mmengine.runner.checkpoint import load_state_dict
from torch import nn

from ..utils.errors import CheckpointError, first_few

__all__ = [
    'to_weights_only', 'restore_history_buffers', 'refuse_unsafe_pickles',
    'load_weights_only', 'revised_state_dict', 'check_fits',
    'load_model_weights'
]

MapLocation = Optional[Union[str, torch.device, Callable]]

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
            f'Refused to load checkpoint {filename}: {_why(err, filename)}. '
            'Checkpoints are loaded with torch.load(weights_only=True), which '
            'builds only tensors and plain Python values; if you trust this '
            'file, load it yourself and save again only its tensors and '
            'plain values (e.g. its "state_dict" and "meta"), or allow-list '
            'the type with torch.serialization.add_safe_globals.') from err


def _why(err: pickle.UnpicklingError, filename: str) -> str:
    """Say in a few words why torch refused a checkpoint.

    Args:
        err (pickle.UnpicklingError): The error ``torch.load`` raised.
        filename (str): The checkpoint.

    Returns:
        str: The global the file needs, or the unpickler's own message.
    """
    message = str(err)
    match = re.search(r'GLOBAL (\S+)', message)
    names = [match.group(1)] if match else _unsafe_globals(filename)
    if names:
        # torch names the builtins without their module
        name = names[0] if '.' in names[0] else f'builtins.{names[0]}'
        return f'it needs the not-allow-listed global {name}'
    # torch puts the unpickler's message between its advice and a link to its
    # documentation, one paragraph each; a plain pickle error is one line.
    paragraphs = [' '.join(part.split()) for part in message.split('\n\n')]
    paragraphs = [part for part in paragraphs if part] or ['no details']
    return ('its pickle cannot be loaded with weights only '
            f'({paragraphs[len(paragraphs) // 2]})')


def _unsafe_globals(filename: str) -> List[str]:
    """The not-allow-listed globals a checkpoint's pickle names, read without
    running it: for when torch stops at an opcode it does not support before
    it reaches a global.

    Args:
        filename (str): The checkpoint.

    Returns:
        list[str]: ``module.name`` of each, in order; empty if none is
        found.
    """
    if not osp.isfile(filename):  # a URL
        return []
    if zipfile.is_zipfile(filename):
        try:
            return torch.serialization.get_unsafe_globals_in_checkpoint(
                filename)
        except Exception:  # a torn archive: nothing more to say
            return []
    names: List[str] = []
    strings: List[str] = []
    memo: Dict[int, str] = {}
    with open(filename, 'rb') as f:
        try:  # the pickles at the start of a legacy torch file, or one
            for _ in range(5):
                for opcode, arg, _ in pickletools.genops(f):
                    if opcode.name in ('GLOBAL', 'INST'):
                        names.append(arg.replace(' ', '.'))
                    elif opcode.name == 'STACK_GLOBAL' and len(strings) > 1:
                        names.append('.'.join(strings[-2:]))
                    elif opcode.name in ('MEMOIZE', 'PUT', 'BINPUT',
                                         'LONG_BINPUT') and strings:
                        memo[len(memo) if arg is None else arg] = strings[-1]
                    elif opcode.name in ('GET', 'BINGET', 'LONG_BINGET'):
                        strings.append(memo.get(arg, ''))
                    if isinstance(arg, str) and 'UNICODE' in opcode.name:
                        strings.append(arg)
        except Exception:  # past the pickles: raw tensor data
            pass
    allowed = _allowed_globals()
    return [name for name in dict.fromkeys(names) if name not in allowed]


def _allowed_globals() -> set:
    """The globals torch's weights-only unpickler accepts.

    Returns:
        set[str]: Their ``module.name``.
    """
    from torch import _weights_only_unpickler
    names = set(
        getattr(_weights_only_unpickler, '_get_allowed_globals', dict)())
    for entry in torch.serialization.get_safe_globals():
        entry = entry[0] if isinstance(entry, tuple) else entry
        names.add(f'{entry.__module__}.{entry.__qualname__}')
    return names


def load_weights_only(filename: str,
                      map_location: MapLocation = 'cpu',
                      mmap: bool = False) -> dict:
    """Load a checkpoint file with ``torch.load(weights_only=True)``.

    The one loader of hexa_mm: the runner (``load_from``, ``resume``), the
    tools and mmengine's loader of local files (see the module's docstring)
    all read checkpoints through it. ``weights_only=True`` is passed
    explicitly, which ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD`` does not override.

    Args:
        filename (str): The file (``~`` is expanded).
        map_location (str | torch.device | callable, optional): As for
            :func:`torch.load`. Defaults to 'cpu'.
        mmap (bool): Map the tensors of a (zip) checkpoint instead of
            reading them: a cheap check that the file loads, before
            anything else is built. Defaults to False.

    Returns:
        dict: What the file holds.

    Raises:
        CheckpointError: On one line: if the path is empty (an unset
            ``init_cfg`` placeholder, whose key it names); naming the file,
            if it does not exist, needs a global that is not allow-listed
            (named), is truncated or corrupt, or holds something other than
            a dict.
    """
    if not filename:
        # mmengine's ``Pretrained`` initialiser passes the empty placeholder
        # of the downstream configs on as it is
        raise CheckpointError(
            "empty checkpoint path: an init_cfg=dict(type='Pretrained', "
            "checkpoint='') placeholder was left unset: set that "
            'init_cfg.checkpoint to a backbone file (e.g. --cfg-options '
            'model.backbone.init_cfg.checkpoint=FILE) or run the config '
            'through its tools/benchmarks launcher with PRETRAIN')
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise CheckpointError(
            f'checkpoint {filename} does not exist: pass the path of a '
            'hexa_mm checkpoint or an extracted backbone')
    with refuse_unsafe_pickles(filename):
        try:
            checkpoint = torch.load(
                filename,
                map_location=map_location,
                weights_only=True,
                mmap=mmap and zipfile.is_zipfile(filename))
        except pickle.UnpicklingError:
            raise
        except Exception as err:  # torch raises several types for bad files
            raise CheckpointError(
                f'cannot load checkpoint {filename}: {_first_line(err)}; the '
                'file is truncated, corrupt or not a PyTorch checkpoint: '
                'resume from an earlier checkpoint or save it again') from err
    if not isinstance(checkpoint, dict):
        raise CheckpointError(
            f'checkpoint {filename} holds a {type(checkpoint).__name__}, not '
            'a dict (a checkpoint or a state_dict)')
    return checkpoint


def _first_line(err: BaseException) -> str:
    """An exception as one short line.

    Args:
        err (BaseException): The exception.

    Returns:
        str: Its type and the first sentence of its message.
    """
    lines = str(err).strip().splitlines()
    if not lines:
        return repr(err)
    return f'{type(err).__name__}: {lines[0].split(". ")[0]}'


def _load_from_http(
    filename: str,
    map_location: MapLocation = None,
    model_dir: Optional[str] = None,
    progress: bool = os.isatty(0)) -> dict:
    """mmengine's loader of ``http(s)://`` URLs, with weights only: process 0
    downloads first, then every process loads the cached file.

    Args:
        filename (str): The URL.
        map_location (str | torch.device | callable, optional): As for
            :func:`torch.load`.
        model_dir (str, optional): The download folder (torch hub's by
            default).
        progress (bool): Show a progress bar. Defaults to whether stdin is a
            terminal.

    Returns:
        dict: The checkpoint.
    """
    rank, world_size = get_dist_info()
    if rank == 0:
        checkpoint = _load_url(filename, map_location, model_dir, progress)
    if world_size > 1:
        barrier()
        if rank > 0:
            checkpoint = _load_url(filename, map_location, model_dir, progress)
    return checkpoint


def _load_url(filename: str, map_location: MapLocation,
              model_dir: Optional[str], progress: bool) -> dict:
    """Download a URL (once, into torch hub's cache) and load it with
    weights only.

    Args:
        filename (str): The URL.
        map_location (str | torch.device | callable, optional): As for
            :func:`torch.load`.
        model_dir (str, optional): The download folder.
        progress (bool): Show a progress bar.

    Returns:
        dict: The checkpoint.
    """
    with refuse_unsafe_pickles(filename):
        return torch.hub.load_state_dict_from_url(
            filename,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=True)


def revised_state_dict(
    checkpoint: dict,
    revise_keys: Sequence[Tuple[str, str]] = ((r'^module\.', ''), )
) -> 'OrderedDict[str, Any]':
    """The state dict of a checkpoint with its keys revised as mmengine's
    ``load_checkpoint`` revises them.

    Args:
        checkpoint (dict): A checkpoint (with ``state_dict``) or a bare
            state dict.
        revise_keys (Sequence[tuple[str, str]]): ``(pattern, replacement)``
            pairs applied to every key. Defaults to stripping ``module.``.

    Returns:
        OrderedDict: The revised state dict.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    for pattern, replacement in revise_keys:
        state_dict = OrderedDict((re.sub(pattern, replacement, key), value)
                                 for key, value in state_dict.items())
    return state_dict


def check_fits(model: nn.Module,
               state_dict: Dict[str, Any],
               filename: str,
               prefix: str = 'backbone.') -> None:
    """Refuse weights that do not fit a model's architecture.

    mmengine loads with ``strict=False`` and only logs missing keys and
    shape mismatches, so a ResNet-18 checkpoint loads into a ResNet-50
    config and the run reports a random backbone's figures. This check is
    strict on the model's keys that start with ``prefix``: each must be in
    ``state_dict`` with the same shape. With ``prefix=''`` (resuming) the
    whole model is checked and a key the model does not have is refused
    too.

    Args:
        model (nn.Module): The model (unwrapped).
        state_dict (dict): The weights, keys revised as for loading.
        filename (str): The checkpoint, for the message.
        prefix (str): Keys to check. Defaults to ``'backbone.'``; a model
            without such keys is not checked.

    Raises:
        CheckpointError: On one line: how many keys are missing, of
            another shape or unexpected, with examples.
    """
    expected = {
        key: value
        for key, value in model.state_dict().items() if key.startswith(prefix)
    }
    missing = [key for key in expected if key not in state_dict]
    wrong = [
        f'{key} {_shape(state_dict[key])} in the checkpoint, '
        f'{_shape(value)} in the model' for key, value in expected.items()
        if key in state_dict and _shape(state_dict[key]) != _shape(value)
    ]
    unexpected = [] if prefix else [
        key for key in state_dict if key not in expected
    ]
    problems = [
        _some(names, what)
        for names, what in ((missing, 'missing'), (wrong, 'of another shape'),
                            (unexpected, 'not in the model')) if names
    ]
    if not problems:
        return
    part = f'the backbone ({prefix}*)' if prefix else 'this model'
    fix = ('resume with the config the checkpoint was trained with'
           if not prefix else 'pass a checkpoint of a model with the same '
           'backbone architecture')
    raise CheckpointError(f'checkpoint {filename} does not fit {part}: '
                          f'{"; ".join(problems)}: {fix}')


def _shape(value: Any) -> Tuple[int, ...]:
    """The shape of a state dict entry.

    Args:
        value (Any): A tensor (or a non-tensor extra state).

    Returns:
        tuple[int, ...]: Its shape, () for a non-tensor.
    """
    return tuple(getattr(value, 'shape', ()))


def _some(names: List[str], what: str) -> str:
    """Count a list of problems and show the first few.

    Args:
        names (list[str]): The problems.
        what (str): What they are.

    Returns:
        str: E.g. ``'62 keys missing (a, b, c, ...)'``.
    """
    return f'{len(names)} keys {what} ({first_few(names, 3)})'


def load_model_weights(model: nn.Module,
                       filename: str,
                       prefix: str = 'backbone.') -> dict:
    """Load a checkpoint's weights into a model, for the tools.

    The file is read by :func:`load_weights_only`, the weights are checked
    by :func:`check_fits` (strict on ``prefix``) and loaded as mmengine's
    ``load_checkpoint`` loads them (other parts may be missing, e.g. a
    published checkpoint without the momentum encoder).

    Args:
        model (nn.Module): The model.
        filename (str): The checkpoint.
        prefix (str): The part that must fit. Defaults to ``'backbone.'``.

    Returns:
        dict: The loaded checkpoint (for its other entries).
    """
    checkpoint = load_weights_only(filename)
    state_dict = revised_state_dict(checkpoint)
    check_fits(model, state_dict, filename, prefix)
    load_state_dict(model, state_dict, logger='silent')
    return checkpoint


CheckpointLoader.register_scheme(
    prefixes='', loader=load_weights_only, force=True)
CheckpointLoader.register_scheme(
    prefixes=('http://', 'https://'), loader=_load_from_http, force=True)
