"""Extract the backbone of a hexa_mm pre-training checkpoint.

    python tools/model_converters/extract_backbone_weights.py CKPT OUT \
        [--prefix backbone.] [--force]

OUT is the backbone's ``state_dict`` with the prefix stripped, the file that
downstream configs load through ``init_cfg=dict(type='Pretrained', ...)``;
it loads with ``torch.load(OUT, weights_only=True)``. The neck, head,
momentum encoder, queue, memory bank, optimizer state and the rest are left
out, and a summary says what was kept and what was dropped. OUT is written
atomically: an error never leaves it half-written, and an existing OUT is
replaced only with ``--force``.
"""
import argparse
import os.path as osp
import sys
from collections import Counter
from typing import Dict, List

import torch

from hexa_mm.engine.checkpoint import load_weights_only
from hexa_mm.engine.pretrained import (extract_backbone_state_dict,
                                       save_state_dict)
from hexa_mm.utils import ConfigError, tool_main

__all__ = ['summarise', 'main']

# state_dict entries of batch norms that are statistics, not parameters
_BUFFER_SUFFIXES = ('running_mean', 'running_var', 'num_batches_tracked')


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='hexa_mm pre-training checkpoint')
    parser.add_argument('out', help='where to write the backbone weights')
    parser.add_argument(
        '--prefix',
        default='backbone.',
        help='prefix of the kept keys, stripped in OUT (default: backbone.; '
        'e.g. encoder_k.module.0. for the momentum encoder of MoCo-v2)')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing OUT')
    return parser.parse_args()


def summarise(checkpoint: dict, backbone: Dict[str, torch.Tensor],
              prefix: str) -> List[str]:
    """Say what the extraction kept and what it dropped.

    Args:
        checkpoint (dict): The loaded checkpoint (or bare ``state_dict``).
        backbone (dict[str, torch.Tensor]): The extracted weights.
        prefix (str): The prefix of the kept keys.

    Returns:
        list[str]: Lines to print: the kept tensors with their parameter and
        buffer counts, the dropped ``state_dict`` keys by top-level name, and
        the dropped checkpoint entries other than ``state_dict``.
    """
    params = sum(v.numel() for k, v in backbone.items()
                 if not k.endswith(_BUFFER_SUFFIXES))
    buffers = sum(v.numel() for k, v in backbone.items()
                  if k.endswith(_BUFFER_SUFFIXES))
    lines = [
        f'kept {prefix}*: {len(backbone)} tensors, {params:,} '
        f'parameters (+ {buffers:,} batch-norm statistics)'
    ]
    state_dict = checkpoint.get('state_dict', checkpoint)
    dropped = Counter(
        str(key).split('.')[0] for key in state_dict
        if not str(key).startswith(prefix))
    if dropped:
        lines.append('dropped (tensors by top-level name): ' +
                     ', '.join(f'{name} {count}'
                               for name, count in dropped.items()))
    others = [str(key) for key in checkpoint if key != 'state_dict'] \
        if 'state_dict' in checkpoint else []
    if others:
        lines.append('not kept from the checkpoint: ' + ', '.join(others))
    return lines


@tool_main
def main() -> int:
    """Extract, save and summarise.

    Returns:
        int: The exit status: 0 (a bad input: 2, see
        :func:`hexa_mm.utils.tool_main`).
    """
    args = parse_args()
    if osp.isdir(args.out):
        raise ConfigError(f'OUT {args.out} is a folder: give a file name')
    if osp.exists(args.out) and not args.force:
        raise ConfigError(f'{args.out} exists: pass --force to overwrite '
                          'it, or choose another OUT')
    checkpoint = load_weights_only(args.checkpoint)
    backbone = extract_backbone_state_dict(checkpoint, args.prefix)
    save_state_dict(backbone, args.out)
    for line in summarise(checkpoint, backbone, args.prefix):
        print(line)
    print(f'wrote {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
