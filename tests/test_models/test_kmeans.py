"""Spherical k-means: against a plain re-statement, split over processes."""
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from hexa_mm.models.utils import assignment_table, spherical_kmeans
from hexa_mm.models.utils.kmeans import CPU_BLOCK, MIN_BLOCKS, ChunkArgmax
from hexa_mm.testing import free_port
from hexa_mm.utils import ConfigError


def blobs(num: int = 90,
          dim: int = 8,
          centres: int = 5,
          seed: int = 0) -> torch.Tensor:
    """Unit rows around a few random directions.

    Args:
        num (int): Rows.
        dim (int): Dimension.
        centres (int): Directions.
        seed (int): Seed.

    Returns:
        torch.Tensor: (num, dim).
    """
    gen = torch.Generator().manual_seed(seed)
    directions = F.normalize(torch.randn(centres, dim, generator=gen), dim=1)
    which = torch.randint(centres, (num, ), generator=gen)
    return F.normalize(
        directions[which] + 0.3 * torch.randn(num, dim, generator=gen), dim=1)


def plain_kmeans(x: torch.Tensor,
                 k: int,
                 iters: int,
                 seed: int,
                 mean_dtype: torch.dtype = torch.float32):
    """Spherical k-means as the reference implementation states it.

    Args:
        x (torch.Tensor): Unit rows, (N, D).
        k (int): Clusters.
        iters (int): Iterations.
        seed (int): Seed of the draw of the initial rows.
        mean_dtype (torch.dtype): Dtype in which the cluster means are
            taken and normalised.

    Returns:
        tuple: Centroids (k, D) and assignments (N, ).
    """
    perm = torch.randperm(
        x.shape[0], generator=torch.Generator().manual_seed(seed))
    centroids = x[perm[:k]].clone()
    for _ in range(iters):
        assign = (x @ centroids.t()).max(dim=1)[1]
        for c in range(k):
            members = x[assign == c]
            if len(members):  # an empty cluster keeps its centroid
                centroids[c] = F.normalize(
                    members.to(mean_dtype).mean(dim=0), dim=0)
    return centroids, (x @ centroids.t()).max(dim=1)[1]


@pytest.mark.parametrize('k,seed', [(4, 0), (7, 3), (12, 5)])
def test_matches_plain_restatement(k: int, seed: int) -> None:
    x = blobs(seed=seed)
    result = spherical_kmeans(x, k, num_iters=10, seed=seed)
    centroids, assign = plain_kmeans(x, k, 10, seed)
    assert torch.allclose(result.centroids, centroids, rtol=0, atol=1e-6)
    assert torch.equal(result.assignments, assign)
    assert torch.equal(result.counts, torch.bincount(assign, minlength=k))
    assert result.num_empty == int((result.counts == 0).sum())


def test_matches_plain_restatement_with_blocked_argmax() -> None:
    # enough clusters for the blocked CPU argmax of the E step
    k = MIN_BLOCKS * CPU_BLOCK + 37
    x = blobs(num=3 * k, dim=16, centres=40, seed=6)
    # chunks of 500 rows, the last one partial
    result = spherical_kmeans(x, k, num_iters=10, seed=1, chunk_size=500)
    # the same float64 means as the M step: only the E step is compared
    centroids, assign = plain_kmeans(x, k, 10, 1, mean_dtype=torch.float64)
    assert torch.equal(result.assignments, assign)
    assert torch.allclose(result.centroids, centroids, rtol=0, atol=1e-6)


def test_chunk_argmax_is_the_first_maximum() -> None:
    # small integers: every score is exact, so ties are real ties
    gen = torch.Generator().manual_seed(0)
    block = 16
    k = MIN_BLOCKS * block + 5  # 9 blocks, the last one padded
    centroids = torch.randint(-2, 3, (k, 6), generator=gen).float()
    centroids[:, 0] = torch.randint(1, 3, (k, ), generator=gen).float()
    centroids[100] = centroids[3]  # a tie across blocks
    centroids[20] = centroids[17]  # a tie inside a block
    centroids[131] = centroids[40]  # a tie with the padded block
    rows = torch.randint(-2, 3, (203, 6), generator=gen).float()
    rows[:3] = centroids[[3, 17, 40]]
    rows[3] = torch.tensor([-1., 0, 0, 0, 0, 0])  # every score < 0
    scores = rows @ centroids.t()
    expected = torch.argmax(scores, dim=1)
    argmax = ChunkArgmax(64, k, rows, block=block)
    assert argmax.num_blocks == 9
    got = torch.empty(203, dtype=torch.long)
    for start in range(0, 203, 64):  # the last chunk is partial
        argmax(rows[start:start + 64], centroids, got[start:start + 64])
    assert torch.equal(got, expected)
    # the data hold ties that span blocks, and rows with no positive score
    top = scores == scores.max(dim=1, keepdim=True).values
    assert any((torch.nonzero(t).squeeze(1) // block).unique().numel() > 1
               for t in top)
    assert bool((scores.max(dim=1).values < 0).any())


def test_empty_cluster_keeps_its_centroid() -> None:
    # two identical initial rows: every tie goes to the first cluster, the
    # second is empty after the first E step
    x = F.normalize(torch.tensor([[1., 0.], [1., 0.], [0.9, 0.1]]), dim=1)
    seed = next(
        s for s in range(100) if set(
            torch.randperm(3, generator=torch.Generator().manual_seed(s))
            [:2].tolist()) == {0, 1})
    first = spherical_kmeans(x, 2, num_iters=0, seed=seed)
    assert first.counts.tolist() == [3, 0]
    assert first.num_empty == 1
    # the M step leaves it where it was; the next E step gives it rows back
    result = spherical_kmeans(x, 2, num_iters=1, seed=seed)
    assert torch.equal(result.centroids[1], x[0])
    assert result.counts.tolist() == [1, 2]
    assert result.num_empty == 0
    centroids, assign = plain_kmeans(x, 2, 1, seed)
    assert torch.allclose(result.centroids, centroids, atol=1e-6)
    assert torch.equal(result.assignments, assign)


def test_independent_of_row_order_and_chunking() -> None:
    x = blobs(num=200, seed=1)
    base = spherical_kmeans(x, 6, seed=2)
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(9))
    shuffled = spherical_kmeans(
        x[perm], 6, index=perm, num_samples=200, seed=2, chunk_size=7)
    assert torch.allclose(
        shuffled.centroids, base.centroids, rtol=0, atol=1e-6)
    assert torch.equal(shuffled.assignments, base.assignments[perm])
    table = assignment_table(shuffled.assignments, perm, 200)
    assert torch.equal(table, base.assignments)


def test_clear_errors() -> None:
    x = blobs(num=10)
    with pytest.raises(ConfigError, match='12 clusters but only 10 samples'):
        spherical_kmeans(x, 12)
    with pytest.raises(ValueError, match='unique'):
        spherical_kmeans(
            x, 2, index=torch.zeros(10, dtype=torch.long), num_samples=10)
    with pytest.raises(ValueError, match=r'ids must lie in \[0, 5\)'):
        spherical_kmeans(x, 2, index=torch.arange(10), num_samples=5)
    with pytest.raises(ValueError, match='x must be'):
        spherical_kmeans(x[0], 2)


def _worker(rank: int, port: int, out_dir: str) -> None:
    """Cluster this rank's share of the bank and save what it got.

    Args:
        rank (int): The process rank (0 or 1).
        port (int): The rendezvous port.
        out_dir (str): Where ``rank{rank}.pth`` goes.
    """
    torch.set_num_threads(1)
    torch_dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    x = blobs(num=301, seed=4)
    # an uneven, shuffled split of the rows
    perm = torch.randperm(301, generator=torch.Generator().manual_seed(1))
    mine = perm[:170] if rank == 0 else perm[170:]
    result = spherical_kmeans(
        x[mine], 9, index=mine, num_samples=301, seed=11, chunk_size=32)
    torch.save(
        dict(
            centroids=result.centroids,
            counts=result.counts,
            table=assignment_table(result.assignments, mine, 301)),
        os.path.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


@pytest.mark.integration
def test_two_processes_equal_one(tmp_path: Path) -> None:
    # fork: the children inherit the imports (spawn would redo them)
    mp.start_processes(
        _worker,
        args=(free_port(), str(tmp_path)),
        nprocs=2,
        start_method='fork')
    single = spherical_kmeans(blobs(num=301, seed=4), 9, seed=11)
    for rank in range(2):
        got = torch.load(tmp_path / f'rank{rank}.pth')
        assert torch.allclose(
            got['centroids'], single.centroids, rtol=0, atol=1e-6)
        assert torch.equal(got['counts'], single.counts)
        assert torch.equal(got['table'], single.assignments)
