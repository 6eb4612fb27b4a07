"""Tests of hexa_mm.engine.dist_env: torchrun's variables from Slurm's and
Open MPI's, for the gloo start without CUDA."""
import pytest

from hexa_mm.engine.dist_env import first_slurm_host, gloo_env
from hexa_mm.utils import ConfigError


@pytest.mark.parametrize('nodelist, host', [
    ('localhost', 'localhost'),
    ('node[01-04,07],gpu5', 'node01'),
    ('a,b', 'a'),
    ('gpu-[3-5]', 'gpu-3'),
    ('n[7]', 'n7'),
    ('rack[1-2]-n[07,09]', 'rack1-n07'),
])
def test_first_slurm_host(nodelist: str, host: str) -> None:
    assert first_slurm_host(nodelist) == host


SLURM = dict(
    SLURM_PROCID='3',
    SLURM_NTASKS='8',
    SLURM_LOCALID='1',
    SLURM_NODELIST='node[12-13]')


def test_slurm_variables_become_torchruns() -> None:
    # LOCAL_RANK is always set by tools/train.py (from --local_rank)
    env = gloo_env('slurm', dict(SLURM, LOCAL_RANK='0'))
    assert env == dict(
        RANK='3',
        WORLD_SIZE='8',
        LOCAL_RANK='1',
        MASTER_ADDR='node12',
        MASTER_PORT='29500')


def test_master_address_and_port_kept_or_from_the_config() -> None:
    env = gloo_env('slurm',
                   dict(SLURM, MASTER_ADDR='10.0.0.1', MASTER_PORT='1234'))
    assert 'MASTER_ADDR' not in env and 'MASTER_PORT' not in env
    assert gloo_env('slurm', SLURM, port=2345)['MASTER_PORT'] == '2345'


def test_open_mpi_variables_become_torchruns() -> None:
    env = gloo_env(
        'mpi',
        dict(
            OMPI_COMM_WORLD_RANK='1',
            OMPI_COMM_WORLD_SIZE='2',
            OMPI_COMM_WORLD_LOCAL_RANK='1',
            MASTER_ADDR='host'))
    assert env == dict(
        RANK='1', WORLD_SIZE='2', LOCAL_RANK='1', MASTER_PORT='29500')


@pytest.mark.parametrize('launcher, environ, missing, how', [
    ('pytorch', dict(LOCAL_RANK='0'), 'RANK, WORLD_SIZE, MASTER_ADDR',
     'tools/dist_train.sh'),
    ('slurm', dict(SLURM_NTASKS='2'), 'SLURM_PROCID, SLURM_NODELIST', 'srun'),
    ('mpi', dict(OMPI_COMM_WORLD_RANK='0',
                 OMPI_COMM_WORLD_SIZE='2'), 'MASTER_ADDR', 'mpirun'),
])
def test_missing_variables_are_named(launcher: str, environ: dict,
                                     missing: str, how: str) -> None:
    with pytest.raises(ConfigError) as info:
        gloo_env(launcher, environ)
    message = str(info.value)
    assert message.startswith(f'--launcher {launcher}: {missing} not set')
    assert how in message and '\n' not in message


def test_unknown_launcher() -> None:
    with pytest.raises(ConfigError, match="launcher 'pbs' is not supported"):
        gloo_env('pbs', {})
