"""Tests of HexaRunner: distributed training on CPU, resume and load_from with
weights-only loading, refusal of unsafe checkpoints.

Run as a script (``python -m torch.distributed.run ... test_runner.py OUT
pytorch``, or with Slurm's variables ``python test_runner.py OUT slurm``),
this file is the worker of :func:`test_distributed_training_on_cpu`.
"""
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path
from typing import Dict, Optional

import pytest
import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.optim import AmpOptimWrapper
from mmengine.runner import Runner
from torch import nn
from torch.utils.data import Dataset

from hexa_mm.engine import CPUAmpOptimWrapper
from hexa_mm.engine.runner import HexaRunner
from hexa_mm.registry import DATASETS, MODELS, RUNNERS
from hexa_mm.testing import free_port
from hexa_mm.utils.errors import CheckpointError, ConfigError

ITERS_PER_EPOCH = 4  # 16 samples, batch 4, one process


@MODELS.register_module(force=True)
class ToyModel(BaseModel):
    """A linear layer and a batch norm (whose buffers must be resumed).

    Args:
        sync_bn (bool): Make the batch norm a ``SyncBatchNorm``.
    """

    def __init__(self, sync_bn: bool = False) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 2)
        self.norm = nn.SyncBatchNorm(2) if sync_bn else nn.BatchNorm1d(2)

    def forward(self,
                inputs: torch.Tensor,
                targets: Optional[torch.Tensor] = None,
                mode: str = 'tensor') -> object:
        """Predict, or compute the MSE loss when ``mode='loss'``.

        Args:
            inputs (torch.Tensor): Inputs, (N, 4).
            targets (torch.Tensor, optional): Targets, (N, 2).
            mode (str): 'loss' or 'tensor'.

        Returns:
            dict or torch.Tensor: The loss dict, or the outputs.
        """
        outputs = self.norm(self.linear(inputs))
        if mode == 'loss':
            return dict(loss=F.mse_loss(outputs, targets))
        return outputs


@DATASETS.register_module(force=True)
class ToyDataset(Dataset):
    """16 deterministic samples of a linear map from R^4 to R^2."""

    metainfo = dict(classes=('a', 'b'))

    def __len__(self) -> int:
        return 16

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        inputs = torch.randn(4, generator=torch.Generator().manual_seed(index))
        return dict(inputs=inputs, targets=inputs[:2] * 2 - inputs[2:])


class MarkerWriter:
    """Pickles as a call of ``os.system`` that writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return os.system, (f'echo pwned > {self.marker}', )


def toy_cfg(work_dir: Path, **overrides) -> dict:
    """A config of 2 epochs on the toy model, checkpoint every epoch.

    Args:
        work_dir (Path): The work directory; its name must be unique in the
            process.
        **overrides: Entries to add or replace.

    Returns:
        dict: The config.
    """
    cfg = dict(
        runner_type='HexaRunner',
        default_scope='hexa_mm',
        work_dir=str(work_dir),
        # runners in one process share message hubs by experiment name
        experiment_name=work_dir.name,
        model=dict(type='ToyModel'),
        train_dataloader=dict(
            dataset=dict(type='ToyDataset'),
            sampler=dict(type='DefaultSampler', shuffle=True),
            collate_fn=dict(type='default_collate'),
            batch_size=4,
            num_workers=0),
        train_cfg=dict(by_epoch=True, max_epochs=2),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(
            type='MultiStepLR', milestones=[1], gamma=0.1, by_epoch=True),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0))
    cfg.update(overrides)
    return cfg


def _state(runner: Runner) -> Dict[str, torch.Tensor]:
    """Weights, buffers and momentum buffers of a toy runner's model.

    Args:
        runner (Runner): The runner.

    Returns:
        dict: Name to tensor.
    """
    state = dict(runner.model.state_dict())
    optimizer = runner.optim_wrapper.optimizer
    for name, param in runner.model.named_parameters():
        state[f'momentum.{name}'] = optimizer.state[param]['momentum_buffer']
    return state


@pytest.fixture(scope='module')
def trained(tmp_path_factory: pytest.TempPathFactory) -> HexaRunner:
    """A runner that trained 2 epochs without interruption."""
    runner = RUNNERS.build(toy_cfg(tmp_path_factory.mktemp('uninterrupted')))
    runner.train()
    return runner


def test_build_from_registry_and_from_cfg(tmp_path: Path) -> None:
    cfg = toy_cfg(tmp_path)
    assert type(RUNNERS.build(cfg)) is HexaRunner
    assert type(HexaRunner.from_cfg(cfg)) is HexaRunner


def test_checkpoint_needs_no_allow_list(trained: HexaRunner) -> None:
    path = osp.join(trained.work_dir, 'epoch_1.pth')
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []
    checkpoint = torch.load(path)
    history = checkpoint['message_hub']['log_scalars']['train/loss']
    assert isinstance(history['log_history'], torch.Tensor)
    assert len(history['log_history']) == ITERS_PER_EPOCH


def test_resume_continues_as_uninterrupted(trained: HexaRunner,
                                           tmp_path: Path) -> None:
    runner = RUNNERS.build(
        toy_cfg(
            tmp_path,
            load_from=osp.join(trained.work_dir, 'epoch_1.pth'),
            resume=True))
    runner.train()

    assert runner.iter == trained.iter == 2 * ITERS_PER_EPOCH
    assert runner.epoch == 2
    # the message hub continued: epoch 1 came from the checkpoint
    loss = runner.message_hub.get_scalar('train/loss')
    assert isinstance(loss, HistoryBuffer)
    assert len(loss.data[0]) == 2 * ITERS_PER_EPOCH
    # the scheduler continued: lr dropped after epoch 1
    assert runner.message_hub.get_scalar('train/lr').data[0].tolist() == \
        trained.message_hub.get_scalar('train/lr').data[0].tolist() == \
        pytest.approx([0.1] * ITERS_PER_EPOCH + [0.01] * ITERS_PER_EPOCH)
    expected = _state(trained)
    resumed = _state(runner)
    assert resumed.keys() == expected.keys()
    for name, value in expected.items():
        assert torch.equal(resumed[name], value), name


def test_load_from(trained: HexaRunner, tmp_path: Path) -> None:
    runner = RUNNERS.build(
        toy_cfg(tmp_path, load_from=osp.join(trained.work_dir, 'epoch_2.pth')))
    runner.load_or_resume()
    loaded = runner.model.state_dict()
    for name, value in trained.model.state_dict().items():
        assert torch.equal(loaded[name], value), name


@pytest.mark.parametrize('resume', [False, True])
def test_unsafe_checkpoint_is_refused(tmp_path: Path, resume: bool) -> None:
    marker = tmp_path / 'marker'
    path = tmp_path / 'evil.pth'
    torch.save(dict(state_dict={}, meta=MarkerWriter(marker)), path)
    runner = RUNNERS.build(
        toy_cfg(tmp_path, load_from=str(path), resume=resume))

    with pytest.raises(CheckpointError) as info:
        if resume:
            runner.train()
        else:
            runner.load_or_resume()

    message = str(info.value)
    assert str(path) in message
    assert 'not-allow-listed global posix.system' in message
    assert 'add_safe_globals' in message
    assert '\n' not in message
    assert not marker.exists()


def test_amp_without_gpu(tmp_path: Path) -> None:
    """--amp (AmpOptimWrapper) without a GPU: bfloat16 autocast where the
    CPU has it natively, else one clear refusal instead of mmengine's
    assertion."""
    cfg = toy_cfg(tmp_path / 'amp')
    cfg['optim_wrapper'] = dict(cfg['optim_wrapper'], type='AmpOptimWrapper',
                                loss_scale='dynamic')
    runner = RUNNERS.build(cfg)
    if torch.cuda.is_available():
        pytest.skip('with CUDA, --amp is mmengine\'s AmpOptimWrapper')
    if CPUAmpOptimWrapper.native_bfloat16():
        runner.train()
        assert type(runner.optim_wrapper) is CPUAmpOptimWrapper
        assert not isinstance(runner.optim_wrapper, AmpOptimWrapper)
    else:
        with pytest.raises(ConfigError) as info:
            runner.train()
        message = str(info.value)
        assert 'no native bfloat16' in message and '\n' not in message
        assert 'optim_wrapper.type=CPUAmpOptimWrapper' in message


def test_cpu_amp_wrapper_named_in_a_config_trains(tmp_path: Path) -> None:
    cfg = toy_cfg(tmp_path / 'bf16')
    cfg['optim_wrapper'] = dict(cfg['optim_wrapper'],
                                type='CPUAmpOptimWrapper')
    runner = RUNNERS.build(cfg)
    runner.train()
    assert type(runner.optim_wrapper) is CPUAmpOptimWrapper
    assert (tmp_path / 'bf16' / 'epoch_2.pth').is_file()



def _run_workers(launcher: str, out_dir: Path) -> str:
    """Train the toy config with 2 CPU processes started as ``launcher``
    starts them; each forked from a preloaded server
    (:func:`forkrun.python_env`), as torchrun is.

    Args:
        launcher (str): ``'pytorch'`` (torchrun) or ``'slurm'`` (two
            processes with Slurm's variables, as srun sets them).
        out_dir (Path): The work dir.

    Returns:
        str: The output of all processes.
    """
    repo = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        CUDA_VISIBLE_DEVICES='',  # the CPU path, on any machine
        OMP_NUM_THREADS='1',
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(repo), os.environ.get('PYTHONPATH')])))
    # imported here: a worker runs this file without tests/ on its path
    from forkrun import python_env
    env = python_env(env)
    python = env['PYTHON']
    if launcher == 'pytorch':
        commands = [[
            python, '-m', 'torch.distributed.run', '--nnodes=1',
            '--nproc_per_node=2', '--master_addr=127.0.0.1',
            f'--master_port={free_port()}', '--no-python', python, __file__,
            str(out_dir), launcher
        ]]
        envs = [env]
    else:
        for name in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'LOCAL_RANK'):
            env.pop(name, None)
        commands = [[python, __file__, str(out_dir), launcher]] * 2
        envs = [
            dict(
                env,
                SLURM_PROCID=str(rank),
                SLURM_LOCALID=str(rank),
                SLURM_NTASKS='2',
                SLURM_NODELIST='localhost',
                MASTER_PORT=str(free_port())) for rank in range(2)
        ]
        envs[1]['MASTER_PORT'] = envs[0]['MASTER_PORT']
    procs = [
        subprocess.Popen(
            command,
            env=proc_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True) for command, proc_env in zip(commands, envs)
    ]
    outputs = [proc.communicate(timeout=300)[0] for proc in procs]
    output = ''.join(outputs)
    assert all(proc.returncode == 0 for proc in procs), output[-3000:]
    return output


@pytest.mark.integration
@pytest.mark.parametrize('launcher', ['pytorch', 'slurm'])
def test_distributed_training_on_cpu(tmp_path: Path, launcher: str) -> None:
    output = _run_workers(launcher, tmp_path)
    assert output.count('distributed training uses the gloo backend') == 1
    # the model's SyncBatchNorm (which needs CUDA) became a batch norm
    assert 'CUDA is not available: 1 SyncBN layers run as BN' in output

    ranks = [torch.load(tmp_path / f'rank{rank}.pth') for rank in range(2)]
    for rank, report in enumerate(ranks):
        assert report['rank'] == rank
        assert report['world_size'] == 2
        assert report['backend'] == 'gloo'
        assert report['wrapper'] == 'MMDistributedDataParallel'
        assert report['device_ids'] is None
        assert report['iter'] == 4  # 2 epochs of 8 samples a rank, batch 4
        assert report['norm'] != 'SyncBatchNorm'
        assert 'SyncNormBuffersHook' in report['hooks']
    for name, value in ranks[0]['params'].items():
        assert torch.equal(ranks[1]['params'][name], value), name
    # each rank saw other samples, yet both end with the same statistics
    # (averaged over the ranks), which the checkpoint holds
    saved = torch.load(tmp_path / 'epoch_2.pth', weights_only=True)
    for name in ('norm.running_mean', 'norm.running_var'):
        assert torch.allclose(ranks[0]['buffers'][name],
                              ranks[1]['buffers'][name]), name
        assert torch.allclose(saved['state_dict'][name],
                              ranks[0]['buffers'][name]), name


def _train_distributed(out_dir: str, launcher: str) -> None:
    """Train the toy config (with a SyncBN) as one of 2 processes and save
    what this rank ended with.

    Args:
        out_dir (str): Where to write ``rank{N}.pth``; also the work dir.
        launcher (str): ``'pytorch'`` or ``'slurm'``.
    """
    runner = RUNNERS.build(
        toy_cfg(
            Path(out_dir),
            launcher=launcher,
            model=dict(type='ToyModel', sync_bn=True),
            env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    runner.train()
    module = runner.model.module
    torch.save(
        dict(
            rank=torch_dist.get_rank(),
            world_size=torch_dist.get_world_size(),
            backend=torch_dist.get_backend(),
            wrapper=type(runner.model).__name__,
            device_ids=runner.model.device_ids,
            iter=runner.iter,
            norm=type(module.norm).__name__,
            hooks=[type(hook).__name__ for hook in runner.hooks],
            params={
                name: param.detach()
                for name, param in module.named_parameters()
            },
            buffers={
                name: buffer.detach()
                for name, buffer in module.named_buffers()
            }), osp.join(out_dir, f'rank{runner.rank}.pth'))
    torch_dist.destroy_process_group()


if __name__ == '__main__':
    _train_distributed(sys.argv[1], sys.argv[2])
