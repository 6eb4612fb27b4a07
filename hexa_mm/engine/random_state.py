"""The states of the global random number generators, as a checkpoint can
hold them (tensors and plain values only, see :mod:`.checkpoint`)."""
import hashlib
import random
import struct
from typing import Dict, List

import numpy as np
import torch

__all__ = ['get_rng_state', 'set_rng_state', 'sample_seed', 'seed_all']


def get_rng_state() -> Dict[str, object]:
    """The state of Python's, numpy's and torch's global generators.

    Returns:
        dict: ``python``, ``numpy`` and ``torch`` states, and ``cuda`` (this
        process's device) when CUDA is initialised. Tensors and plain values
        only, so that ``torch.load(weights_only=True)`` reads them back.
    """
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = dict(
        python=dict(
            version=version,
            internal=torch.tensor(internal, dtype=torch.int64),
            gauss_next=gauss_next),
        numpy=dict(
            kind=kind,
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: Dict[str, object]) -> None:
    """Put the global generators in a state :func:`get_rng_state` returned.

    Args:
        state (dict): The state.
    """
    python = state['python']
    random.setstate((python['version'], tuple(python['internal'].tolist()),
                     python['gauss_next']))
    numpy = state['numpy']
    np.random.set_state(
        (numpy['kind'], numpy['keys'].numpy().astype(np.uint32), numpy['pos'],
         numpy['has_gauss'], numpy['cached_gaussian']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state['cuda'])


def sample_seed(seed: int, epoch: int, index: int) -> List[int]:
    """The seed of one sample's data augmentation in one epoch.

    Args:
        seed (int): The run's seed.
        epoch (int): The epoch (from 0).
        index (int): The sample's index in the data set.

    Returns:
        list[int]: Four 32-bit words (a BLAKE2 hash of the three numbers),
        the same on every process and for any number of data workers.
    """
    key = struct.pack('<QQQ', seed % 2**64, epoch, index)
    digest = hashlib.blake2b(key, digest_size=16).digest()
    return list(struct.unpack('<4I', digest))


def seed_all(words: List[int]) -> None:
    """Seed Python's, numpy's and torch's (CPU) global generators, each from
    its own part of ``words``.

    Args:
        words (list[int]): Four 32-bit words, from :func:`sample_seed`.
    """
    np.random.seed(words[0])
    torch.default_generator.manual_seed(words[1] | words[2] << 32)
    random.seed(words[3])
