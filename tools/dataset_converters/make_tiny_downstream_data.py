"""Write the tiny synthetic VOC, COCO and Cityscapes sets.

    python tools/dataset_converters/make_tiny_downstream_data.py OUT_DIR \
        [--seed N] [--num-train N] [--num-val N] [--force]

OUT_DIR gets ``VOCdevkit/`` (VOC2007 and VOC2012, detection and
segmentation), ``coco/`` and ``cityscapes/`` in the real layouts (see
:func:`hexa_mm.testing.tiny_downstream.make_tiny_downstream_data`), so the
downstream configs run on them with only ``data_root`` changed. A seed always
writes the same files. OUT_DIR must be missing or empty unless ``--force`` is
given; then files of the same names are overwritten and nothing is removed.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from hexa_mm.testing.tiny_downstream import make_tiny_downstream_data
from hexa_mm.utils import ConfigError, tool_main

__all__ = ['parse_args', 'main']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv[1:]`` if None.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(
        description='Write tiny synthetic VOC / COCO / Cityscapes sets')
    parser.add_argument('out_dir', help='folder to write into')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--num-train',
        type=int,
        default=12,
        help='images of each training split')
    parser.add_argument(
        '--num-val',
        type=int,
        default=8,
        help='images of each validation / test split')
    parser.add_argument(
        '--force',
        action='store_true',
        help='write into a non-empty OUT_DIR, overwriting files of the same '
        'names')
    return parser.parse_args(argv)


@tool_main
def main(argv: Optional[List[str]] = None) -> int:
    """Check OUT_DIR, write the data and say what was written.

    Args:
        argv (list[str], optional): The arguments; ``sys.argv[1:]`` if None.

    Returns:
        int: The exit status: 0 (a bad input: 2, see
        :func:`hexa_mm.utils.tool_main`).
    """
    args = parse_args(argv)
    if osp.exists(args.out_dir) and not osp.isdir(args.out_dir):
        raise ConfigError(f'OUT_DIR {args.out_dir} is a file: choose a '
                          'folder')
    if osp.isdir(args.out_dir) and os.listdir(args.out_dir) and not args.force:
        raise ConfigError(
            f'OUT_DIR {args.out_dir} is not empty: pass --force to write '
            'into it, or choose an empty folder')
    roots = make_tiny_downstream_data(args.out_dir, args.seed, args.num_train,
                                      args.num_val)
    train, val = args.num_train, args.num_val
    print(f'wrote tiny downstream data (seed {args.seed}) to {args.out_dir}:')
    print(f'  {roots["voc"]}: VOC2007 trainval {train} / test {val}, '
          f'VOC2012 train {train} / val {val} (detection, SegmentationClass, '
          'SegmentationClassAug)')
    print(f'  {roots["coco"]}: train2017 {train} / val2017 {val} '
          '(instances with boxes and polygon masks)')
    print(f'  {roots["cityscapes"]}: train {train} / val {val} '
          '(gtFine labelTrainIds)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
