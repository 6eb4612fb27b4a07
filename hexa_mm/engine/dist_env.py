"""The ``env://`` variables of a distributed run without CUDA.

mmengine's ``init_dist`` reads each launcher's own variables (Slurm's
``SLURM_PROCID``..., Open MPI's ``OMPI_COMM_WORLD_RANK``...) but then picks a
CUDA device. Without CUDA, :class:`~hexa_mm.engine.HexaRunner` starts gloo
through ``env://`` instead, which reads torchrun's variables (``RANK``,
``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``); this module derives them
from the launcher's, as mmengine does.
"""
import re
from typing import Dict, Mapping, Optional

from ..utils.errors import ConfigError

__all__ = ['first_slurm_host', 'gloo_env']

DEFAULT_PORT = 29500

# For each launcher: torchrun's variable -> the launcher's.
LAUNCHER_VARIABLES = {
    'slurm':
    dict(
        RANK='SLURM_PROCID',
        WORLD_SIZE='SLURM_NTASKS',
        LOCAL_RANK='SLURM_LOCALID',
        MASTER_ADDR='SLURM_NODELIST'),
    'mpi':
    dict(
        RANK='OMPI_COMM_WORLD_RANK',
        WORLD_SIZE='OMPI_COMM_WORLD_SIZE',
        LOCAL_RANK='OMPI_COMM_WORLD_LOCAL_RANK'),
}
HOW_TO_START = {
    'pytorch': 'start it with bash tools/dist_train.sh CONFIG N (torchrun)',
    'slurm': 'start it with srun, e.g. bash tools/slurm_train.sh',
    'mpi': 'start it with mpirun, with MASTER_ADDR set',
}


def first_slurm_host(nodelist: str) -> str:
    """The first host of a Slurm host list, as ``scontrol show hostname``
    gives it.

    Args:
        nodelist (str): e.g. ``'node[01-04,07],gpu5'``.

    Returns:
        str: e.g. ``'node01'``.
    """
    first = re.match(r'(?:[^,\[]|\[[^\]]*\])+', nodelist.strip())
    host = first.group(0) if first else nodelist
    return re.sub(r'\[([^\],-]+)[^\]]*\]', r'\1', host)


def gloo_env(launcher: str,
             environ: Mapping[str, str],
             port: Optional[int] = None) -> Dict[str, str]:
    """torchrun's variables for a process started by ``launcher``.

    As mmengine's ``init_dist``: the rank, world size and local rank come
    from the launcher's variables (Slurm's, Open MPI's) when it has its own;
    ``MASTER_ADDR`` and ``MASTER_PORT`` are kept when set, else
    ``MASTER_ADDR`` is the first host of ``SLURM_NODELIST`` (Slurm) and
    ``MASTER_PORT`` is ``port``, else 29500.

    Args:
        launcher (str): ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        environ (Mapping[str, str]): The process's environment.
        port (int, optional): ``env_cfg.dist_cfg.port``, if set.

    Returns:
        dict[str, str]: The variables to set.

    Raises:
        ConfigError: Naming the variables the launcher should have set, if
            any is missing, or the launcher if it is not one of these.
    """
    if launcher not in HOW_TO_START:
        raise ConfigError(f'launcher {launcher!r} is not supported without '
                          f'CUDA: use one of {", ".join(HOW_TO_START)}')
    variables = LAUNCHER_VARIABLES.get(launcher, {})
    env, missing = {}, []
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR'):
        source = variables.get(name, name)
        if name == 'MASTER_ADDR' and name in environ:
            continue
        if source in environ:
            env[name] = environ[source]
        elif name != 'LOCAL_RANK':
            missing.append(source)
    if missing:
        raise ConfigError(
            f'--launcher {launcher}: {", ".join(missing)} not set; '
            f'{HOW_TO_START[launcher]}')
    if launcher == 'slurm' and 'MASTER_ADDR' in env:
        env['MASTER_ADDR'] = first_slurm_host(env['MASTER_ADDR'])
    if 'MASTER_PORT' not in environ:
        env['MASTER_PORT'] = str(port or DEFAULT_PORT)
    return env
