"""Tests of hexa_mm.engine.checkpoint: numpy-free checkpoints that load with
weights only, and the refusal of everything else."""
import os
import pickle
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

# the runner too, so that whatever hexa_mm allow-lists is in effect
import hexa_mm.engine.runner  # noqa: F401
from hexa_mm.engine.checkpoint import (refuse_unsafe_pickles,
                                       restore_history_buffers,
                                       to_weights_only)
from hexa_mm.utils.errors import CheckpointError


class Foreign:
    """A class no allow-list knows."""


class MarkerWriter:
    """Pickles as a call of ``os.system`` that writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f'echo pwned > {self.marker}', )


def _load(path: Path) -> dict:
    """Load as the runner does: mmengine's loader, inside the refusal.

    Args:
        path (Path): The checkpoint.

    Returns:
        dict: The checkpoint.
    """
    with refuse_unsafe_pickles(str(path)):
        return CheckpointLoader.load_checkpoint(str(path), map_location='cpu')


def test_numpy_free_round_trip(tmp_path: Path) -> None:
    history = HistoryBuffer([0.5, 0.25], [1, 2], max_length=10)
    state_dict = OrderedDict(weight=torch.ones(2))
    state_dict._metadata = OrderedDict(weight=dict(version=1))
    dataset_meta = dict(
        classes=('a', 'b'),
        palette=np.array([[0, 0, 255], [255, 0, 0]], dtype=np.uint8),
        names=np.array(['x', 'y']))
    checkpoint = dict(
        state_dict=state_dict,
        meta=dict(dataset_meta=dataset_meta, seed=np.int64(3)),
        message_hub=dict(
            log_scalars=OrderedDict({'train/loss': history}),
            runtime_info=OrderedDict(eta=np.float64(1.5), pair=[np.int32(1)]),
            resumed_keys=OrderedDict({'train/loss': True})))

    to_weights_only(checkpoint)
    path = tmp_path / 'plain.pth'
    torch.save(checkpoint, path)

    assert checkpoint['state_dict'] is state_dict  # nothing to replace
    assert isinstance(dataset_meta['palette'], np.ndarray)  # source kept
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    loaded = _load(path)
    assert loaded['state_dict']._metadata == state_dict._metadata
    meta = loaded['meta']
    assert meta['seed'] == 3 and type(meta['seed']) is int
    assert meta['dataset_meta']['palette'].dtype == torch.uint8
    assert meta['dataset_meta']['palette'].tolist() == [[0, 0, 255],
                                                        [255, 0, 0]]
    assert meta['dataset_meta']['names'] == ['x', 'y']
    runtime_info = loaded['message_hub']['runtime_info']
    assert runtime_info == dict(eta=1.5, pair=[1])

    restore_history_buffers(loaded)
    restored = loaded['message_hub']['log_scalars']['train/loss']
    assert isinstance(restored, HistoryBuffer)
    assert restored.max_length == 10
    for got, expected in zip(restored.data, history.data):
        assert isinstance(got, np.ndarray)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype
    restored.update(1.0)
    assert restored.mean() == pytest.approx((0.5 + 0.25 + 1.0) / 4)


def test_restore_leaves_published_checkpoints_alone() -> None:
    checkpoint = dict(state_dict=OrderedDict(weight=torch.ones(1)))
    restore_history_buffers(checkpoint)
    assert list(checkpoint) == ['state_dict']


def test_foreign_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / 'foreign.pth'
    torch.save(dict(state_dict={}, meta=Foreign()), path)
    with pytest.raises(CheckpointError) as info:
        _load(path)
    message = str(info.value)
    assert str(path) in message
    assert f'not-allow-listed global {__name__}.Foreign' in message
    assert '\n' not in message


def test_arbitrary_call_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / 'marker'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=MarkerWriter(marker)), path)
    assert 'posix.system' in \
        torch.serialization.get_unsafe_globals_in_checkpoint(path)
    with pytest.raises(CheckpointError) as info:
        _load(path)
    assert 'not-allow-listed global posix.system' in str(info.value)
    assert not marker.exists()


def test_other_unpickling_errors_are_one_line(tmp_path: Path) -> None:
    path = tmp_path / 'raw.pkl'
    path.write_bytes(pickle.dumps(dict(a=1), protocol=0))
    with pytest.raises(CheckpointError) as info:
        _load(path)
    message = str(info.value)
    assert 'cannot be loaded with weights only (Unsupported operand' in message
    assert str(path) in message
    assert '\n' not in message


def test_empty_path_names_the_init_cfg_key() -> None:
    # what mmengine's Pretrained initialiser passes for an unset placeholder
    with pytest.raises(CheckpointError) as info:
        CheckpointLoader.load_checkpoint('', map_location='cpu')
    message = str(info.value)
    assert 'init_cfg.checkpoint' in message
    assert '\n' not in message


def test_allow_list_has_no_dangerous_globals() -> None:
    names = []
    for entry in torch.serialization.get_safe_globals():
        if isinstance(entry, tuple):
            entry, name = entry
            names.append(name)
        names.append(f'{entry.__module__}.{entry.__qualname__}')
    forbidden_callables = {
        f'builtins.{name}'
        for name in ('getattr', 'setattr', 'eval', 'exec', 'compile',
                     '__import__', 'open')
    }
    forbidden_modules = ('os', 'posix', 'nt', 'subprocess', 'sys', 'shutil',
                         'importlib', 'numpy')
    for name in names:
        assert name not in forbidden_callables, name
        assert name.split('.')[0] not in forbidden_modules, name
