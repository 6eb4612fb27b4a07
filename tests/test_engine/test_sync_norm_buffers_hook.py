"""Tests of SyncNormBuffersHook with two gloo processes."""
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from torch import nn

from hexa_mm.engine.hooks import SyncNormBuffersHook
from hexa_mm.testing import free_port


class Model(nn.Module):
    """Two batch norms and a buffer that is not a batch-norm statistic."""

    def __init__(self, rank: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(3)
        self.head = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        self.register_buffer('queue', torch.full((4, ), float(rank)))
        with torch.no_grad():
            for module in (self.norm, self.head[1]):
                module.running_mean.fill_(rank * 2.)
                module.running_var.fill_(1. + rank)
                module.num_batches_tracked.fill_(rank + 5)


def _worker(rank: int, port: int, out: str) -> None:
    """Run the hook in one of two processes and save the model.

    Args:
        rank (int): This process's rank.
        port (int): The rendezvous port.
        out (str): Where to save ``rank{N}.pth``.
    """
    torch_dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=2)
    model = Model(rank)
    hook = SyncNormBuffersHook()
    runner = SimpleNamespace(model=model)
    hook.after_train_iter(runner, batch_idx=0)
    after_iter = {k: v.clone() for k, v in model.state_dict().items()}
    # statistics that moved apart again are averaged before validation
    with torch.no_grad():
        model.norm.running_mean.add_(rank * 4.)
    hook.before_val_epoch(runner)
    torch.save(
        dict(after_iter=after_iter, before_val=model.state_dict()),
        os.path.join(out, f'rank{rank}.pth'))
    torch_dist.destroy_process_group()


@pytest.mark.integration
def test_statistics_averaged_other_buffers_untouched(tmp_path: Path) -> None:
    # fork: the children inherit the imports (spawn would redo them)
    mp.start_processes(
        _worker,
        args=(free_port(), str(tmp_path)),
        nprocs=2,
        start_method='fork')
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(2)]
    for rank, saved in enumerate(ranks):
        state = saved['after_iter']
        for norm, width in (('norm', 3), ('head.1', 2)):
            # (0 + 2) / 2 and (1 + 2) / 2
            assert torch.equal(state[f'{norm}.running_mean'],
                               torch.full((width, ), 1.))
            assert torch.equal(state[f'{norm}.running_var'],
                               torch.full((width, ), 1.5))
            # counts and other buffers are each rank's own
            assert int(state[f'{norm}.num_batches_tracked']) == rank + 5
        assert torch.equal(state['queue'], torch.full((4, ), float(rank)))
        # (1 + 1) / 2 and (1 + 5) / 2
        assert torch.equal(saved['before_val']['norm.running_mean'],
                           torch.full((3, ), 3.))


def test_does_nothing_outside_distributed_runs() -> None:
    model = Model(rank=1)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    SyncNormBuffersHook().after_train_iter(
        SimpleNamespace(model=model), batch_idx=0)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
