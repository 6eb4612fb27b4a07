"""Train a hexa_mm model from a config, on one device or under torchrun."""
import argparse
import difflib
import inspect
import os.path as osp
import sys

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from hexa_mm import register_all_modules
from hexa_mm.engine.checkpoint import load_weights_only
from hexa_mm.engine.pretrained import check_init_checkpoints
from hexa_mm.engine.schedule import set_max_epochs
from hexa_mm.registry import RUNNERS
from hexa_mm.utils import ConfigError, tool_main
from hexa_mm.utils.dataset_files import check_dataset_files

# tools/runner_args.py, the options every runner-building tool shares (this
# folder is on sys.path when the file runs as a script, not through runpy)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from runner_args import (  # noqa: E402
    add_runner_args, apply_runner_args, parse_runner_args)

# top-level config keys mmengine's runner reads besides its arguments
RUNNER_CFG_KEYS = {
    'runner_type', 'custom_imports', 'model_wrapper_cfg',
    'find_unused_parameters', 'compile', 'activation_checkpointing',
    'efficient_conv_bn_eval'
}


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description='Train a hexa_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, with no value, from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='skip validation (the kNN monitor) during training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by global batch / auto_scale_lr.base_batch_size')
    parser.add_argument(
        '--max-epochs',
        type=int,
        help='train this many epochs, the lr schedule shortened or '
        'lengthened with them (hexa_mm.engine.schedule.set_max_epochs)')
    add_runner_args(
        parser,
        cfg_options_help='override config settings, e.g. '
        'model.queue_len=4096')
    return parse_runner_args(parser)


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to the config.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): The arguments.

    Returns:
        Config: The updated config.
    """
    apply_runner_args(cfg, args, work_dir_root='./work_dirs')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.auto_scale_lr:
        cfg.auto_scale_lr.enable = True
    if args.cfg_options is not None:
        check_top_level_keys(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    if args.max_epochs is not None:
        set_max_epochs(cfg, args.max_epochs)
    # after the overrides, which may set val_dataloader fields
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
    return cfg


def load_config(path: str) -> Config:
    """Load a config file.

    Args:
        path (str): The file.

    Returns:
        Config: The config.

    Raises:
        ConfigError: If it has a syntax error (named, with its line).
    """
    try:
        return Config.fromfile(path)
    except SyntaxError as err:
        raise ConfigError(f'config {path} has a syntax error: {err.msg} '
                          f'(line {err.lineno})') from err


def check_top_level_keys(cfg: Config, options: dict) -> None:
    """Refuse ``--cfg-options`` keys whose first part is neither in the config
    nor read by the runner: the runner would ignore them without a word.

    Args:
        cfg (Config): The loaded config.
        options (dict): ``--cfg-options``.

    Raises:
        ConfigError: Naming the key and the closest known one.
    """
    known = set(cfg.keys()) | set(
        inspect.signature(Runner.__init__).parameters) | RUNNER_CFG_KEYS
    for key in options:
        top = key.split('.')[0]
        if top not in known:
            close = difflib.get_close_matches(top, sorted(known), n=1)
            hint = f' (did you mean {close[0]}?)' if close else ''
            raise ConfigError(
                f'--cfg-options {key}: the config has no top-level key '
                f'{top!r}{hint}: check its spelling')


@tool_main
def main() -> int:
    """Build the runner and train.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    cfg = merge_args(load_config(args.config), args)
    check_init_checkpoints(cfg)
    register_all_modules(init_default_scope=False)
    check_dataset_files(cfg)
    if cfg.get('load_from') and '://' not in cfg.load_from:
        # refuse a missing, corrupt or unsafe file before building
        load_weights_only(cfg.load_from, mmap=True)
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else \
        Runner.from_cfg(cfg)
    runner.train()
    # on success only: gloo's threads may abort the interpreter's exit
    # without it, and after a failure it could wait on the others. The
    # barrier first: a rank that tears its group down while another still
    # writes the last checkpoint was seen to abort at exit ("terminate
    # called without an active exception") under load
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return 0


if __name__ == '__main__':
    sys.exit(main())
