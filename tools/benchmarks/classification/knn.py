"""Weighted kNN top-1 of a checkpoint's backbone features.

    python tools/benchmarks/classification/knn.py CONFIG CHECKPOINT \
        [--k K] [--temperature T] [--cfg-options ...] [--launcher ...]

The config's ``val_dataloader`` must be a ``KNNDataset`` (labelled bank +
labelled queries), as in the digits and CIFAR-10 configs. One validation
pass extracts the features (progress is logged) and ``KNNAccuracy`` scores
the queries, with the ``k`` and ``temperature`` of the config's
``val_evaluator`` (the online monitor's) unless ``--k`` / ``--temperature``
say otherwise; 200 and 0.07 if the config has no ``KNNAccuracy``. Runs under
torchrun like ``tools/dist_train.sh``.
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

from hexa_mm import register_all_modules
from hexa_mm.engine.checkpoint import load_weights_only
from hexa_mm.registry import RUNNERS
from hexa_mm.utils import ConfigError, tool_main

# tools/runner_args.py, the options every runner-building tool shares
sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
from runner_args import add_runner_args, parse_runner_args  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config with a KNNDataset val set')
    parser.add_argument('checkpoint', help='checkpoint to evaluate')
    parser.add_argument(
        '--k', type=int, help="neighbours (default: the config's)")
    parser.add_argument(
        '--temperature',
        type=float,
        help="temperature (default: the "
        "config's)")
    add_runner_args(
        parser,
        'config overrides, e.g. val_dataloader.dataset.query.indices=100',
        amp=False)
    return parse_runner_args(parser)


def knn_evaluator(cfg: Config, args: argparse.Namespace) -> dict:
    """The evaluator: the config's ``KNNAccuracy``, with the command line's
    ``k`` and ``temperature`` where given.

    Args:
        cfg (Config): The config.
        args (argparse.Namespace): The arguments.

    Returns:
        dict: A ``KNNAccuracy`` config with ``k`` and ``temperature`` set.
    """
    evaluator = cfg.get('val_evaluator') or {}
    if not isinstance(evaluator, dict) or \
            evaluator.get('type') != 'KNNAccuracy':
        evaluator = dict(type='KNNAccuracy')
    evaluator = dict(evaluator)
    evaluator.setdefault('k', 200)
    evaluator.setdefault('temperature', 0.07)
    if args.k is not None:
        evaluator['k'] = args.k
    if args.temperature is not None:
        evaluator['temperature'] = args.temperature
    return evaluator


@tool_main
def main() -> int:
    """Evaluate and print kNN top-1.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    # refuse a missing, corrupt or unsafe file before building
    load_weights_only(args.checkpoint, mmap=True)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('val_dataloader') is None or \
            cfg.val_dataloader.dataset.type != 'KNNDataset':
        raise ConfigError(
            f'{args.config}: val_dataloader must be a KNNDataset (bank + '
            'queries); see configs/_base_/datasets/digits_mocov2.py.')
    cfg.val_evaluator = knn_evaluator(cfg, args)
    cfg.val_cfg = cfg.get('val_cfg') or dict()
    cfg.launcher = args.launcher
    cfg.work_dir = args.work_dir or osp.join(
        'work_dirs', 'knn',
        osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    cfg.resume = False
    register_all_modules(init_default_scope=False)
    runner = RUNNERS.build(cfg)
    metrics = runner.val()
    # on success only: gloo's threads may abort the interpreter's exit
    # without it, and after a failure it could wait on the others
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    print(f'kNN (k={cfg.val_evaluator.k}, '
          f'T={cfg.val_evaluator.temperature}) top-1: '
          f'{metrics["knn/top1"]:.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
