"""DeepCluster-v2's memory bank: writes by sample id, sync, gather, load."""
import os
from pathlib import Path

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp

from hexa_mm.models.utils import MemoryBank
from hexa_mm.testing import free_port
from hexa_mm.utils import ConfigError


def rows(ids, value: float, crops: int = 2, dim: int = 3) -> torch.Tensor:
    """Embeddings whose entries say who wrote them: ``value + id / 100``.

    Args:
        ids (list[int]): Sample ids.
        value (float): The writer's mark.
        crops (int): Crops.
        dim (int): Dimension.

    Returns:
        torch.Tensor: (crops, len(ids), dim).
    """
    base = value + torch.tensor(ids, dtype=torch.float) / 100
    return base[None, :, None].expand(crops, -1, dim).clone()


def held(bank: MemoryBank) -> dict:
    """Sample id to (stamp, first entry) of the rows a bank holds.

    Args:
        bank (MemoryBank): The bank.

    Returns:
        dict: ``{id: (stamp, value)}``.
    """
    return {
        int(i): (int(s), round(float(e), 4))
        for i, s, e in zip(bank.index, bank.stamps, bank.embeddings[0, :, 0])
    }


def test_write_overwrites_by_sample_id_and_grows() -> None:
    bank = MemoryBank(num_samples=50, num_crops=2, feat_dim=3)
    bank.write(torch.tensor([4, 9]), rows([4, 9], 1))
    bank.write(torch.tensor([9, 30, 30, 2]), rows([9, 30, 30, 2], 2))
    assert len(bank) == 4
    assert held(bank) == {
        4: (0, 1.04),
        9: (1, 2.09),
        30: (1, 2.3),
        2: (1, 2.02)
    }
    assert bank.clock == 2
    bank.write(torch.arange(50), rows(list(range(50)), 3))
    assert len(bank) == 50
    assert sorted(held(bank)) == list(range(50))
    assert bank.embeddings.shape == (2, 50, 3)


def test_bad_input_is_refused() -> None:
    bank = MemoryBank(num_samples=5, num_crops=1, feat_dim=3)
    with pytest.raises(ConfigError, match='data set has 5 samples'):
        bank.write(torch.tensor([5]), rows([5], 0, crops=1))
    with pytest.raises(ValueError, match='expected'):
        bank.write(torch.tensor([1]), rows([1], 0, crops=2))
    with pytest.raises(ValueError, match='must be >= 1'):
        MemoryBank(num_samples=0, num_crops=1, feat_dim=3)


def test_gather_and_load_round_trip() -> None:
    bank = MemoryBank(num_samples=6, num_crops=2, feat_dim=3)
    bank.write(torch.tensor([5, 1]), rows([5, 1], 1))
    bank.write(torch.tensor([3]), rows([3], 2))
    state = bank.gather()
    assert state['stamps'].tolist() == [-1, 0, -1, 1, -1, 0]
    assert state['clock'] == 2
    assert torch.equal(
        state['embeddings'][:, [1, 3, 5]],
        torch.cat([rows([1], 1), rows([3], 2),
                   rows([5], 1)], dim=1))
    assert not state['embeddings'][:, [0, 2, 4]].any()
    other = MemoryBank(num_samples=6, num_crops=2, feat_dim=3)
    other.load(state)
    assert held(other) == {1: (0, 1.01), 3: (1, 2.03), 5: (0, 1.05)}
    assert other.clock == 2
    with pytest.raises(ConfigError, match='same data set'):
        MemoryBank(num_samples=7, num_crops=2, feat_dim=3).load(state)


def _worker(rank: int, port: int, out_dir: str) -> None:
    """Write overlapping samples on two ranks; sync, gather and load.

    Args:
        rank (int): The process rank (0 or 1).
        port (int): The rendezvous port.
        out_dir (str): Where ``rank{rank}.pth`` goes.
    """
    torch.set_num_threads(1)
    torch_dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    bank = MemoryBank(num_samples=10, num_crops=2, feat_dim=3)
    # step 0: both ranks write 3 and 4 (the lower rank's copy wins)
    # step 1: rank 1 writes 5 again, rank 0 writes 0 again
    steps = [[0, 1, 3, 4, 5], [0]] if rank == 0 else [[3, 4, 5, 6], [5]]
    for ids in steps:
        bank.write(torch.tensor(ids), rows(ids, 1 + rank))
    bank.sync()
    synced = held(bank)
    state = bank.gather()
    loaded = MemoryBank(num_samples=10, num_crops=2, feat_dim=3)
    loaded.load(state)
    torch.save(
        dict(synced=synced, state=state, loaded=held(loaded)),
        os.path.join(out_dir, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


@pytest.mark.integration
def test_two_processes_keep_each_sample_once(tmp_path: Path) -> None:
    # fork: the children inherit the imports (spawn would redo them)
    mp.start_processes(
        _worker,
        args=(free_port(), str(tmp_path)),
        nprocs=2,
        start_method='fork')
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    assert ranks[0]['synced'] == {
        0: (1, 1.0),
        1: (0, 1.01),
        3: (0, 1.03),
        4: (0, 1.04)
    }
    assert ranks[1]['synced'] == {5: (1, 2.05), 6: (0, 2.06)}
    for rank in ranks:
        state = rank['state']
        assert state['stamps'].tolist() == [1, 0, -1, 0, 0, 1, 0, -1, -1, -1]
        assert state['embeddings'][0, :, 0].tolist() == pytest.approx(
            [1.0, 1.01, 0, 1.03, 1.04, 2.05, 2.06, 0, 0, 0])
    # a loaded bank is split by id modulo the number of processes
    assert ranks[0]['loaded'] == {0: (1, 1.0), 4: (0, 1.04), 6: (0, 2.06)}
    assert ranks[1]['loaded'] == {1: (0, 1.01), 3: (0, 1.03), 5: (1, 2.05)}
