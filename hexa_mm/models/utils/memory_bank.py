"""A memory bank of embeddings indexed by sample id, spread over processes."""
from typing import Dict, Optional, Union

import torch
from mmengine.dist import all_reduce, get_rank, get_world_size

from hexa_mm.utils import ConfigError

__all__ = ['MemoryBank']


class MemoryBank:
    """The latest embeddings of the samples this process saw.

    Each row holds, for one sample (its ``sample_idx``), the embeddings of
    ``num_crops`` crops and the time they were written (a write counter that
    advances by one per :meth:`write` and is the same on every process, since
    processes write in lockstep). A sample another process wrote more
    recently is dropped by :meth:`sync`, so after it every sample that was
    ever written is held once over all processes, with its latest
    embeddings. Samples are never forgotten: one the sampler skipped for a
    while keeps its older embeddings.

    It is not an ``nn.Module``: its rows differ between processes, so they
    must not be broadcast as buffers or saved from one process;
    :meth:`gather` and :meth:`load` move it in and out of a checkpoint.

    Args:
        num_samples (int): Size of the data set; ids lie in
            ``[0, num_samples)``.
        num_crops (int): Crops embedded per sample.
        feat_dim (int): Dimension of the embeddings.
        device (torch.device or str, optional): Where the rows live.
            Defaults to the CPU.
    """

    def __init__(self,
                 num_samples: int,
                 num_crops: int,
                 feat_dim: int,
                 device: Optional[Union[torch.device, str]] = None) -> None:
        if num_samples < 1 or num_crops < 1 or feat_dim < 1:
            raise ValueError(
                f'MemoryBank: num_samples={num_samples}, num_crops='
                f'{num_crops} and feat_dim={feat_dim} must be >= 1.')
        self.num_samples = num_samples
        self.num_crops = num_crops
        self.feat_dim = feat_dim
        self.device = torch.device(device or 'cpu')
        self.clock = 0
        self._size = 0
        self._index = torch.empty(0, dtype=torch.long, device=self.device)
        self._stamp = torch.empty(0, dtype=torch.long, device=self.device)
        self._embeddings = torch.empty(
            num_crops, 0, feat_dim, device=self.device)
        self._slot_of = torch.full((num_samples, ),
                                   -1,
                                   dtype=torch.long,
                                   device=self.device)

    def __len__(self) -> int:
        """Number of samples this process holds."""
        return self._size

    @property
    def index(self) -> torch.Tensor:
        """Sample id of each held row, (n, )."""
        return self._index[:self._size]

    @property
    def embeddings(self) -> torch.Tensor:
        """Embeddings of each held row, (num_crops, n, feat_dim)."""
        return self._embeddings[:, :self._size]

    @property
    def stamps(self) -> torch.Tensor:
        """When each held row was written, (n, )."""
        return self._stamp[:self._size]

    @torch.no_grad()
    def write(self, sample_idx: torch.Tensor,
              embeddings: torch.Tensor) -> None:
        """Store the embeddings of a batch, replacing older ones.

        Args:
            sample_idx (torch.Tensor): Sample ids, (B, ). A repeated id keeps
                its first occurrence.
            embeddings (torch.Tensor): (num_crops, B, feat_dim).
        """
        sample_idx = sample_idx.to(device=self.device, dtype=torch.long)
        expected = (self.num_crops, sample_idx.numel(), self.feat_dim)
        if tuple(embeddings.shape) != expected:
            raise ValueError(
                f'MemoryBank.write: embeddings of shape '
                f'{tuple(embeddings.shape)}, expected {expected}.')
        if sample_idx.numel() and (sample_idx.min() < 0
                                   or sample_idx.max() >= self.num_samples):
            raise ConfigError(
                f'MemoryBank: sample_idx in [{int(sample_idx.min())}, '
                f'{int(sample_idx.max())}] but the data set has '
                f'{self.num_samples} samples; sample_idx must index the '
                'training data set.')
        uniq, inverse = torch.unique(sample_idx, return_inverse=True)
        if uniq.numel() < sample_idx.numel():
            order = torch.arange(sample_idx.numel(), device=self.device)
            first = torch.full_like(uniq, sample_idx.numel()).scatter_reduce_(
                0, inverse, order, 'amin')
            sample_idx, embeddings = sample_idx[first], embeddings[:, first]
        slots = self._slot_of[sample_idx]
        new = slots < 0
        num_new = int(new.sum())
        if num_new:
            self._reserve(self._size + num_new)
            slots[new] = torch.arange(
                self._size, self._size + num_new, device=self.device)
            self._slot_of[sample_idx[new]] = slots[new]
            self._index[slots[new]] = sample_idx[new]
            self._size += num_new
        self._embeddings[:, slots] = embeddings.to(self._embeddings)
        self._stamp[slots] = self.clock
        self.clock += 1

    def _reserve(self, size: int) -> None:
        """Grow the storage to at least ``size`` rows, doubling.

        Args:
            size (int): Rows needed.
        """
        capacity = self._index.numel()
        if size <= capacity:
            return
        capacity = min(max(size, 2 * capacity), self.num_samples)
        index = self._index.new_full((capacity, ), -1)
        stamp = self._stamp.new_full((capacity, ), -1)
        embeddings = self._embeddings.new_zeros(self.num_crops, capacity,
                                                self.feat_dim)
        index[:self._size] = self.index
        stamp[:self._size] = self.stamps
        embeddings[:, :self._size] = self.embeddings
        self._index, self._stamp, self._embeddings = index, stamp, embeddings

    @torch.no_grad()
    def sync(self) -> None:
        """Drop the rows another process holds a newer copy of.

        A collective call: every process must call it. Of the copies of one
        sample, the most recently written is kept; of copies written in the
        same step, the one on the lowest rank.
        """
        world_size = get_world_size()
        if world_size == 1:
            return
        index, stamps = self.index, self.stamps
        latest = torch.full((self.num_samples, ),
                            -1,
                            dtype=torch.long,
                            device=self.device)
        latest[index] = stamps
        all_reduce(latest, op='max')
        newest = stamps == latest[index]
        owner = torch.full((self.num_samples, ),
                           world_size,
                           dtype=torch.long,
                           device=self.device)
        owner[index[newest]] = get_rank()
        all_reduce(owner, op='min')
        self._keep(newest & (owner[index] == get_rank()))

    def _keep(self, keep: torch.Tensor) -> None:
        """Keep the held rows where ``keep`` is True, in order.

        Args:
            keep (torch.Tensor): (n, ) bool over the held rows.
        """
        if bool(keep.all()):
            return
        index = self.index
        self._slot_of[index] = -1
        kept = int(keep.sum())
        self._index[:kept] = index[keep]
        self._stamp[:kept] = self.stamps[keep]
        self._embeddings[:, :kept] = self.embeddings[:, keep]
        self._size = kept
        self._slot_of[self.index] = torch.arange(kept, device=self.device)

    @torch.no_grad()
    def gather(self) -> Dict[str, Union[torch.Tensor, int]]:
        """The whole bank over all processes, as tables indexed by sample id.

        A collective call (it calls :meth:`sync` first).

        Returns:
            dict: On the CPU: ``embeddings`` (num_crops, num_samples,
            feat_dim), zero for samples never written; ``stamps``
            (num_samples, ), -1 for samples never written; ``clock``.
        """
        self.sync()
        index = self.index
        stamps = torch.full((self.num_samples, ),
                            -1,
                            dtype=torch.long,
                            device=self.device)
        stamps[index] = self.stamps
        all_reduce(stamps, op='max')
        embeddings = []
        for crop in self.embeddings:
            table = crop.new_zeros(self.num_samples, self.feat_dim)
            table[index] = crop
            # rows are disjoint over processes: the sum copies them
            all_reduce(table)
            embeddings.append(table.cpu())
        return dict(
            embeddings=torch.stack(embeddings),
            stamps=stamps.cpu(),
            clock=self.clock)

    @torch.no_grad()
    def load(self, state: Dict[str, Union[torch.Tensor, int]]) -> None:
        """Take this process's share of a bank saved by :meth:`gather`.

        Process ``r`` of ``w`` holds the written samples whose id is ``r``
        modulo ``w``, so any number of processes can load it.

        Args:
            state (dict): What :meth:`gather` returned.
        """
        expected = (self.num_crops, self.num_samples, self.feat_dim)
        found = tuple(state['embeddings'].shape)
        if found != expected:
            raise ConfigError(
                'The checkpoint\'s memory bank holds (crops, samples, dim) = '
                f'{found} but this run needs {expected}: resume with the same '
                'data set, assignment crops and feature dimension.')
        stamps = state['stamps'].to(self.device)
        ids = torch.arange(self.num_samples, device=self.device)
        mine = (stamps >= 0) & (ids % get_world_size() == get_rank())
        index = ids[mine]
        self._slot_of.fill_(-1)
        self._size = 0
        self._reserve(index.numel())
        self._size = index.numel()
        self._index[:self._size] = index
        self._stamp[:self._size] = stamps[index]
        rows = state['embeddings'][:, index.cpu()]
        self._embeddings[:, :self._size] = rows.to(self._embeddings)
        self._slot_of[index] = torch.arange(self._size, device=self.device)
        self.clock = int(state['clock'])
