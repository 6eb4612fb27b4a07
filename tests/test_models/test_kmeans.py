"""Spherical k-means: against a plain re-statement, split over processes."""
import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from hexa_mm.models.utils import assignment_table, spherical_kmeans
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


def plain_kmeans(x: torch.Tensor, k: int, iters: int, seed: int):
    """Spherical k-means as the reference implementation states it.

    Args:
        x (torch.Tensor): Unit rows, (N, D).
        k (int): Clusters.
        iters (int): Iterations.
        seed (int): Seed of the draw of the initial rows.

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
                centroids[c] = members.mean(dim=0)
        centroids = F.normalize(centroids, dim=1)
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


def _free_port() -> int:
    """A TCP port that was free a moment ago.

    Returns:
        int: The port.
    """
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


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


def test_two_processes_equal_one(tmp_path: Path) -> None:
    # fork: the children inherit the imports (spawn would redo them)
    mp.start_processes(
        _worker,
        args=(_free_port(), str(tmp_path)),
        nprocs=2,
        start_method='fork')
    single = spherical_kmeans(blobs(num=301, seed=4), 9, seed=11)
    for rank in range(2):
        got = torch.load(tmp_path / f'rank{rank}.pth')
        assert torch.allclose(
            got['centroids'], single.centroids, rtol=0, atol=1e-6)
        assert torch.equal(got['counts'], single.counts)
        assert torch.equal(got['table'], single.assignments)
