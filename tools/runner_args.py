"""Command-line options the tools that build a runner share (tools/train.py,
tools/benchmarks/train_downstream.py, tools/benchmarks/classification/
knn.py): work dir, AMP, config overrides and the launcher, and how they
change a config. A tool below tools/ imports it with
``sys.path.insert(0, TOOLS)``, TOOLS being this folder."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

__all__ = ['add_runner_args', 'apply_runner_args', 'parse_runner_args']


def add_runner_args(parser: argparse.ArgumentParser,
                    cfg_options_help: str,
                    amp: bool = True) -> None:
    """Add ``--work-dir``, ``--amp``, ``--cfg-options``, ``--launcher`` and
    ``--local_rank`` to a parser.

    Args:
        parser (argparse.ArgumentParser): The tool's parser.
        cfg_options_help (str): The help of ``--cfg-options``, with an
            example that fits the tool.
        amp (bool): Whether the tool trains, and so takes ``--amp``.
            Defaults to True.
    """
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    if amp:
        parser.add_argument(
            '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help=cfg_options_help)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line; export ``LOCAL_RANK`` as torchrun would.

    Args:
        parser (argparse.ArgumentParser): A parser that went through
            :func:`add_runner_args`.

    Returns:
        argparse.Namespace: The arguments.
    """
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def apply_runner_args(cfg: Config, args: argparse.Namespace,
                      work_dir_root: str) -> None:
    """Apply ``--launcher``, ``--work-dir`` and ``--amp`` to a config, in
    place (``--cfg-options`` is left to the tool, which picks its order).

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): The arguments.
        work_dir_root (str): Where the default work dir, named after the
            config file, goes when neither the command line nor the config
            names one.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join(work_dir_root,
                                osp.splitext(osp.basename(args.config))[0])
    if getattr(args, 'amp', False):
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
