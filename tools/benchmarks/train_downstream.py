"""Fine-tune a downstream benchmark config from a hexa_mm pre-training.

Works for mmpretrain (linear probe, semi-supervised), mmdet and mmseg
configs alike: ``PRETRAIN`` becomes the ``init_cfg`` of the backbone (and of
the C4 detectors' res5 shared head), and training runs with hexa_mm's
``HexaRunner`` (without CUDA: gloo, CPU DDP and SyncBN run as BN under
torchrun; weights-only checkpoints).

    python tools/benchmarks/train_downstream.py CONFIG PRETRAIN [options]
    bash tools/benchmarks/mmdetection/dist_train.sh CONFIG PRETRAIN N [options]
"""
import argparse
import os.path as osp
import sys

import torch
from mmengine.config import Config

from hexa_mm import register_all_modules
from hexa_mm.engine import HexaRunner
from hexa_mm.engine.pretrained import (check_pretrained_keys,
                                       resolve_pretrained, set_pretrained)
from hexa_mm.utils import tool_main
from hexa_mm.utils.dataset_files import check_dataset_files

# tools/runner_args.py, the options every runner-building tool shares
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from runner_args import (  # noqa: E402
    add_runner_args, apply_runner_args, parse_runner_args)


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Fine-tune a downstream config from a hexa_mm backbone')
    parser.add_argument('config', help='downstream config file path')
    parser.add_argument(
        'pretrain',
        help='backbone weights (extract_backbone_weights.py) or a hexa_mm '
        'training checkpoint')
    add_runner_args(
        parser,
        cfg_options_help='override config settings, e.g. '
        'train_cfg.max_iters=1000 (a data root is set per dataset: see '
        'configs/benchmarks/*/README.md)')
    return parse_runner_args(parser)


def build_config(args: argparse.Namespace) -> tuple:
    """Load the config, apply the options and point it at the backbone.

    Args:
        args (argparse.Namespace): The arguments.

    Returns:
        tuple[Config, list[str]]: The config, and lines to log once the
        runner's logger exists.
    """
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    apply_runner_args(
        cfg, args, work_dir_root=osp.join('./work_dirs', 'benchmarks'))
    check_dataset_files(cfg)
    path, how = resolve_pretrained(args.pretrain, cfg.work_dir)
    names = set_pretrained(cfg, path)
    used = check_pretrained_keys(cfg, path)
    notes = [how, f'{", ".join(names)} load {used} tensors from {path}']
    return cfg, notes


@tool_main
def main() -> int:
    """Fine-tune.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    register_all_modules(init_default_scope=False)
    cfg, notes = build_config(args)
    runner = HexaRunner.from_cfg(cfg)
    for note in notes:
        runner.logger.info(note)
    runner.train()
    # on success only: gloo's threads may abort the interpreter's exit
    # without it, and after a failure it could wait on the others
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
