"""Spherical k-means over rows spread across processes.

DeepCluster-v2 (Caron et al. 2020, https://arxiv.org/abs/2006.09882)
clusters a memory bank of unit embeddings that every process holds a part
of. :func:`spherical_kmeans` runs the same k-means on every process and
combines the parts with ``all_reduce`` (mmengine's, so one process needs no
process group), so that every process ends with the same centroids.

The result does not depend on how the rows are split over processes or
ordered within a process:

* rows carry sample ids (``index``), and the initial centroids are the rows
  of ``num_clusters`` ids drawn from the ids present on any process, by a
  generator seeded with ``seed``;
* the M step accumulates in float64, so the float32 centroids come out the
  same (up to float64 rounding) whatever the summation order.

**Empty clusters** keep their previous centroid, as in the reference
implementation (facebookresearch/swav ``main_deepclusterv2.py``): the
centroid stays a unit vector in the data's region and may win rows back at
the next E step. Clusters that are still empty after the last iteration
are counted in :attr:`KMeansResult.num_empty`.
"""
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from mmengine.dist import all_reduce, get_world_size

from hexa_mm.utils import ConfigError

__all__ = [
    'ChunkArgmax', 'KMeansResult', 'assignment_table', 'default_chunk_size',
    'spherical_kmeans'
]

#: Columns per block of the CPU argmax (:class:`ChunkArgmax`), a multiple of
#: the vector length so that ``amax`` over a block has no scalar tail.
CPU_BLOCK = 64
#: Fewest blocks for which the blocked CPU argmax pays.
MIN_BLOCKS = 8
#: Rows per chunk on the CPU (measured: see :func:`default_chunk_size`).
CPU_CHUNK_ROWS = 2048
#: Bytes of float32 scores per chunk elsewhere (GPU).
GPU_SCORE_BYTES = 2**29
#: Rows converted to float64 at a time by the M step.
M_STEP_ROWS = 4096


@dataclass
class KMeansResult:
    """What :func:`spherical_kmeans` returns.

    Args:
        centroids (torch.Tensor): Unit centroids, (K, D), the same on every
            process.
        assignments (torch.Tensor): Cluster of each local row, (N, ), long:
            the most similar centroid of the final E step.
        counts (torch.Tensor): Rows per cluster over all processes, (K, ),
            long, from the final E step.
    """

    centroids: torch.Tensor
    assignments: torch.Tensor
    counts: torch.Tensor

    @property
    def num_empty(self) -> int:
        """Number of clusters that hold no row after the final E step."""
        return int((self.counts == 0).sum())


def default_chunk_size(num_clusters: int, device: torch.device) -> int:
    """Rows :func:`spherical_kmeans` scores at a time by default.

    On the CPU, :data:`CPU_CHUNK_ROWS`, chosen by measurement
    (``tools/analysis/benchmark_kmeans.py --sweep``): the matrix product
    slows by 15-35 % below about a thousand rows, and the E step (product
    and argmax) was fastest at 2048 rows (24 MiB of scores at K = 3000, in
    the last-level cache while the argmax reads them back). On a GPU, chunks
    of :data:`GPU_SCORE_BYTES` of scores, so that few kernels are launched.

    Args:
        num_clusters (int): Number of clusters K.
        device (torch.device): Where the rows are.

    Returns:
        int: Rows per chunk, at least 1.
    """
    if device.type == 'cpu':
        return CPU_CHUNK_ROWS
    return max(1, GPU_SCORE_BYTES // (4 * num_clusters))


def spherical_kmeans(x: torch.Tensor,
                     num_clusters: int,
                     num_iters: int = 10,
                     index: Optional[torch.Tensor] = None,
                     num_samples: Optional[int] = None,
                     seed: int = 0,
                     chunk_size: Optional[int] = None) -> KMeansResult:
    """Spherical k-means of unit rows, distributed over processes.

    ``num_iters`` iterations of an E step (each row to its most similar
    centroid by dot product) and an M step (each non-empty centroid to the
    normalised sum of its rows), then a final E step for the assignments:
    ``num_iters + 1`` matrix products of ``x`` with the centroids, computed
    ``chunk_size`` rows at a time so that the score matrix never exceeds
    ``chunk_size * num_clusters`` entries; each chunk's argmax is taken
    while its scores are in cache (:class:`ChunkArgmax`).

    Args:
        x (torch.Tensor): This process's rows, (N, D), each of unit norm.
        num_clusters (int): Number of clusters K.
        num_iters (int): Number of E+M iterations. Defaults to 10.
        index (torch.Tensor, optional): Sample id of each row, (N, ), unique
            over all processes. Required when distributed; defaults to
            ``arange(N)`` on one process.
        num_samples (int, optional): One more than the largest possible id.
            Defaults to ``N`` on one process; required when distributed.
        seed (int): Seed of the draw of the initial centroids; must be the
            same on every process. Defaults to 0.
        chunk_size (int, optional): Rows scored at a time. Defaults to
            :func:`default_chunk_size`.

    Returns:
        KMeansResult: Centroids, local assignments and global cluster sizes.

    Raises:
        ConfigError: If fewer rows than clusters exist over all processes.
    """
    if x.dim() != 2:
        raise ValueError(f'spherical_kmeans: x must be (N, D), got '
                         f'{tuple(x.shape)}.')
    if chunk_size is None:
        chunk_size = default_chunk_size(num_clusters, x.device)
    if num_clusters < 1 or num_iters < 0 or chunk_size < 1:
        raise ValueError(
            f'spherical_kmeans: num_clusters={num_clusters} and '
            f'chunk_size={chunk_size} must be >= 1, num_iters={num_iters} '
            '>= 0.')
    if index is None or num_samples is None:
        if get_world_size() > 1:
            raise ValueError('spherical_kmeans: index and num_samples are '
                             'required when distributed.')
        index = torch.arange(x.shape[0], device=x.device)
        num_samples = x.shape[0]
    if index.shape != x.shape[:1]:
        raise ValueError(f'spherical_kmeans: index {tuple(index.shape)} does '
                         f'not match x {tuple(x.shape)}.')
    index = index.to(device=x.device, dtype=torch.long)
    centroids = _initial_centroids(x, index, num_samples, num_clusters, seed)
    assignments = torch.empty(x.shape[0], dtype=torch.long, device=x.device)
    argmax = ChunkArgmax(min(chunk_size, x.shape[0]), num_clusters, x)
    for step in range(num_iters + 1):
        for start in range(0, x.shape[0], chunk_size):
            argmax(x[start:start + chunk_size], centroids,
                   assignments[start:start + chunk_size])
        if step < num_iters:
            centroids = _update(x, assignments, centroids)
    counts = torch.bincount(assignments, minlength=num_clusters)
    all_reduce(counts)
    return KMeansResult(centroids, assignments, counts)


class ChunkArgmax:
    """The E step of a chunk of rows: the index of its most similar
    centroid, the first one on a tie, as ``torch.argmax`` gives it.

    PyTorch's CPU ``argmax`` is a scalar loop: over the scores of 128-d rows
    it costs about a third of the matrix product that made them, while
    ``amax`` is vectorised and costs a tenth of that. So on the CPU, when K
    spans at least :data:`MIN_BLOCKS` blocks of ``block`` columns, the
    scores go into a buffer whose rows are padded with ``-inf`` to whole
    blocks, and the index comes in three steps: the maximum of every block
    (``amax``), the first block that holds the row's maximum (``argmax``
    over ``K / block`` values) and the first maximum in that block
    (``argmax`` over one block). Otherwise (few clusters, GPU) it is
    ``torch.argmax``.

    Args:
        chunk_size (int): Most rows per call.
        num_clusters (int): Number of centroids K.
        like (torch.Tensor): A tensor with the rows' dtype and device.
        block (int): Columns per block on the CPU. Defaults to
            :data:`CPU_BLOCK`.
    """

    def __init__(self,
                 chunk_size: int,
                 num_clusters: int,
                 like: torch.Tensor,
                 block: int = CPU_BLOCK) -> None:
        self.num_clusters = num_clusters
        blocked = (
            like.device.type == 'cpu' and num_clusters >= MIN_BLOCKS * block)
        self.block = block if blocked else num_clusters
        self.num_blocks = -(-num_clusters // self.block)
        self.scores = like.new_full((chunk_size, self.num_blocks * self.block),
                                    float('-inf'))
        self.block_max = like.new_empty(chunk_size, self.num_blocks)
        # where each row's blocks start in the (rows * blocks, block) view
        self.row_start = torch.arange(
            0,
            chunk_size * self.num_blocks,
            self.num_blocks,
            device=like.device)

    def __call__(self, rows: torch.Tensor, centroids: torch.Tensor,
                 out: torch.Tensor) -> torch.Tensor:
        """Assign a chunk of rows.

        Args:
            rows (torch.Tensor): At most ``chunk_size`` rows, (n, D).
            centroids (torch.Tensor): Centroids, (K, D).
            out (torch.Tensor): Where the assignments go, (n, ), long.

        Returns:
            torch.Tensor: ``out``.
        """
        n = rows.shape[0]
        scores = self.scores[:n]
        torch.mm(rows, centroids.t(), out=scores[:, :self.num_clusters])
        if self.num_blocks == 1:
            return torch.argmax(scores, dim=1, out=out)
        blocks = scores.view(n * self.num_blocks, self.block)
        block_max = torch.amax(
            blocks, dim=1,
            out=self.block_max[:n].view(-1)).view(n, self.num_blocks)
        first = torch.argmax(block_max, dim=1)
        winners = torch.index_select(blocks, 0,
                                     torch.add(first, self.row_start[:n]))
        within = torch.argmax(winners, dim=1)
        return torch.add(within, first, alpha=self.block, out=out)


def _update(x: torch.Tensor, assignments: torch.Tensor,
            centroids: torch.Tensor) -> torch.Tensor:
    """M step: every non-empty centroid to the normalised sum of its rows
    over all processes, summed in float64 (so that the float32 result does
    not depend on the order of the rows).

    Args:
        x (torch.Tensor): This process's rows, (N, D).
        assignments (torch.Tensor): Their clusters, (N, ).
        centroids (torch.Tensor): The current centroids, (K, D).

    Returns:
        torch.Tensor: The new centroids, (K, D).
    """
    num_clusters, dim = centroids.shape
    sums = torch.zeros(num_clusters, dim, dtype=torch.float64, device=x.device)
    for start in range(0, x.shape[0], M_STEP_ROWS):
        sums.index_add_(0, assignments[start:start + M_STEP_ROWS],
                        x[start:start + M_STEP_ROWS].double())
    counts = torch.bincount(assignments, minlength=num_clusters)
    # sums and counts in one tensor: a single all_reduce
    acc = torch.cat([sums, counts[:, None].double()], dim=1)
    all_reduce(acc)
    updated = F.normalize(acc[:, :dim], dim=1).to(x.dtype)
    return torch.where(acc[:, dim:] > 0, updated, centroids)


def _initial_centroids(x: torch.Tensor, index: torch.Tensor, num_samples: int,
                       num_clusters: int, seed: int) -> torch.Tensor:
    """The rows of ``num_clusters`` random sample ids present anywhere.

    Args:
        x (torch.Tensor): This process's rows, (N, D).
        index (torch.Tensor): Their sample ids, (N, ).
        num_samples (int): One more than the largest possible id.
        num_clusters (int): Number of centroids K.
        seed (int): Seed of the draw.

    Returns:
        torch.Tensor: Unit centroids, (K, D), the same on every process.
    """
    if index.numel() and (index.min() < 0 or index.max() >= num_samples):
        raise ValueError(f'spherical_kmeans: ids must lie in [0, '
                         f'{num_samples}), got [{int(index.min())}, '
                         f'{int(index.max())}].')
    present = torch.zeros(num_samples, dtype=torch.int32, device=x.device)
    present.index_add_(0, index, torch.ones_like(index, dtype=torch.int32))
    all_reduce(present)
    if num_samples and int(present.max()) > 1:
        raise ValueError('spherical_kmeans: a sample id occurs in more than '
                         'one row over the processes; ids must be unique.')
    ids = torch.nonzero(present).squeeze(1)
    if ids.numel() < num_clusters:
        raise ConfigError(
            f'k-means: {num_clusters} clusters but only {ids.numel()} '
            'samples in the memory bank; use fewer prototypes (clusters) '
            'than training samples.')
    generator = torch.Generator().manual_seed(seed)
    chosen = ids[torch.randperm(
        ids.numel(), generator=generator)[:num_clusters].to(x.device)]
    slot = torch.full((num_samples, ), -1, dtype=torch.long, device=x.device)
    slot[chosen] = torch.arange(num_clusters, device=x.device)
    local = slot[index]
    mine = local >= 0
    init = torch.zeros(
        num_clusters, x.shape[1], dtype=torch.float64, device=x.device)
    init.index_add_(0, local[mine], x[mine].double())
    all_reduce(init)
    return F.normalize(init, dim=1).to(x.dtype)


def assignment_table(assignments: torch.Tensor, index: torch.Tensor,
                     num_samples: int) -> torch.Tensor:
    """Every process's assignments, as one table indexed by sample id.

    Args:
        assignments (torch.Tensor): Cluster of each local row, (N, ).
        index (torch.Tensor): Sample id of each local row, (N, ), unique over
            the processes.
        num_samples (int): Length of the table.

    Returns:
        torch.Tensor: (num_samples, ) long: the cluster of each sample, -1
        for ids that no process holds. The same on every process.
    """
    table = torch.zeros(
        num_samples, dtype=torch.long, device=assignments.device)
    table[index.to(assignments.device)] = assignments + 1
    all_reduce(table)
    return table - 1
