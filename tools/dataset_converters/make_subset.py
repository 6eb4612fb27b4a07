"""Write a labeled-subset annotation file for semi-supervised benchmarks.

    python tools/dataset_converters/make_subset.py ROOT OUT \
        (--fraction F | --per-class K | --from-list FILE) [--seed S] [--force]

ROOT is a labeled folder in the ImageNet layout, ``ROOT/CLASS/IMAGE``
(e.g. ``data/imagenet/train``); a class's label is its index among the
sorted class folders, as for mmpretrain's ``ImageNet`` and
``CustomDataset``. OUT gets one ``CLASS/IMAGE LABEL`` line per image, the
``ann_file`` format of those data sets (paths relative to ROOT, i.e. to
``data_prefix``).

* ``--fraction F``: a class-balanced subset of ``round(F * N)`` of the N
  images: every class gets the same number of images, and the remainder, one
  extra image each, goes to classes drawn with the seed (SimCLR's 1% / 10%
  ImageNet subsets are class-balanced in the same sense, about 12.8 and 128
  images per class).
* ``--per-class K``: K images of every class.
* ``--from-list FILE``: convert a published list, e.g. SimCLR's
  ``1percent.txt`` / ``10percent.txt`` (one ``n01440764_10026.JPEG`` per
  line, the class being the part before ``_``; ``CLASS/IMAGE`` lines work
  too).

The images of each class are drawn with ``--seed`` from its sorted file
names, so a seed always gives the same file. An existing OUT is replaced only
with ``--force``.
"""
import argparse
import os.path as osp
import random
import sys
from typing import Dict, List, Optional, Tuple

from mmpretrain.datasets import ImageNet
from mmpretrain.datasets.custom import find_folders, get_samples

from hexa_mm.utils import ConfigError, tool_main
from hexa_mm.utils.atomic import atomic_path

__all__ = [
    'scan_classes', 'balanced_subset', 'subset_from_list', 'write_ann_file',
    'main'
]

Subset = List[Tuple[str, int]]


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='labeled folder: ROOT/CLASS/IMAGE')
    parser.add_argument('out', help='annotation file to write')
    how = parser.add_mutually_exclusive_group(required=True)
    how.add_argument(
        '--fraction', type=float, help='share of the images, e.g. 0.01')
    how.add_argument('--per-class', type=int, help='images per class')
    how.add_argument(
        '--from-list',
        help='published list of image names (SimCLR 1percent.txt format)')
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of the draw (default 0)')
    parser.add_argument(
        '--force', action='store_true', help='overwrite an existing OUT')
    return parser.parse_args()


def scan_classes(root: str) -> Dict[str, List[str]]:
    """The images of each class folder of ``root``, found as mmpretrain's
    ``CustomDataset`` finds them (so labels are the same).

    Args:
        root (str): The labeled folder, ``root/CLASS/IMAGE``.

    Returns:
        dict[str, list[str]]: Sorted class names to the sorted file names
        of their images (the extensions mmpretrain's ImageNet accepts).

    Raises:
        ConfigError: If ``root`` is not a folder or has no class folder.
    """
    if not osp.isdir(root):
        raise ConfigError(f'ROOT {root} is not a folder: give the labeled '
                          'folder, e.g. data/imagenet/train')
    classes, class_to_idx = find_folders(root)
    if not classes:
        raise ConfigError(f'ROOT {root} has no class folders: expected '
                          'ROOT/CLASS/IMAGE, e.g. data/imagenet/train')
    samples, _ = get_samples(
        root,
        class_to_idx,
        is_valid_file=lambda f: f.lower().endswith(ImageNet.IMG_EXTENSIONS))
    images = {name: [] for name in classes}
    for path, label in samples:
        images[classes[label]].append(osp.relpath(path, classes[label]))
    return images


def balanced_subset(classes: Dict[str, List[str]],
                    seed: int,
                    fraction: Optional[float] = None,
                    per_class: Optional[int] = None) -> Subset:
    """Draw a class-balanced subset.

    Args:
        classes (dict[str, list[str]]): What :func:`scan_classes` returns.
        seed (int): Seed of the draw.
        fraction (float, optional): Share of all images, in (0, 1]; each
            class gets ``round(fraction * N) // C`` images, and
            ``round(fraction * N) % C`` classes drawn with the seed one more.
        per_class (int, optional): Images per class, if ``fraction`` is not
            given.

    Returns:
        list[tuple[str, int]]: ``(CLASS/IMAGE, label)`` pairs, by label, then
        by file name.

    Raises:
        ConfigError: If the fraction or count is out of range, gives fewer
            than one image per class, or a class has too few images.
    """
    names = list(classes)
    rng = random.Random(seed)
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ConfigError(f'--fraction {fraction} must be in (0, 1]')
        total = round(fraction * sum(len(f) for f in classes.values()))
        if total < len(names):
            raise ConfigError(
                f'--fraction {fraction} gives {total} images for '
                f'{len(names)} classes, fewer than one per class: use a '
                'larger fraction or --per-class')
        counts = [total // len(names)] * len(names)
        for index in rng.sample(range(len(names)), total % len(names)):
            counts[index] += 1
    else:
        if per_class is None or per_class < 1:
            raise ConfigError(f'--per-class {per_class} must be at least 1')
        counts = [per_class] * len(names)
    subset = []
    for label, (name, count) in enumerate(zip(names, counts)):
        files = classes[name]
        if count > len(files):
            raise ConfigError(
                f'class {name} has {len(files)} images, fewer than the '
                f'{count} a balanced subset needs: lower --fraction or '
                '--per-class')
        subset.extend((f'{name}/{file}', label)
                      for file in sorted(rng.sample(files, count)))
    return subset


def subset_from_list(classes: Dict[str, List[str]], list_file: str) -> Subset:
    """Convert a published list of image names.

    Args:
        classes (dict[str, list[str]]): What :func:`scan_classes` returns.
        list_file (str): One image per line: ``n01440764_10026.JPEG`` (the
            class is the part before ``_``) or ``CLASS/IMAGE``. Blank lines
            are skipped.

    Returns:
        list[tuple[str, int]]: ``(CLASS/IMAGE, label)`` pairs, in the list's
        order.

    Raises:
        ConfigError: If the list is missing or empty, or names an image whose
            class folder or file is not under ROOT.
    """
    if not osp.isfile(list_file):
        raise ConfigError(f'--from-list {list_file} does not exist')
    labels = {name: label for label, name in enumerate(classes)}
    images = {name: set(files) for name, files in classes.items()}
    subset = []
    with open(list_file) as f:
        lines = [line.strip() for line in f]
    for number, line in enumerate(lines, 1):
        if not line:
            continue
        name, _, file = line.rpartition('/')
        name = name or file.split('_')[0]
        where = f'{list_file}:{number} ({line})'
        if name not in labels:
            raise ConfigError(
                f'{where}: class folder {name} is not in ROOT: give the '
                'folder that holds the class folders of the whole set')
        if file not in images[name]:
            raise ConfigError(f'{where}: no image {name}/{file} in ROOT')
        subset.append((f'{name}/{file}', labels[name]))
    if not subset:
        raise ConfigError(f'--from-list {list_file} names no image')
    return subset


def write_ann_file(subset: Subset, out: str) -> None:
    """Write ``CLASS/IMAGE LABEL`` lines atomically.

    Args:
        subset (list[tuple[str, int]]): The images and their labels.
        out (str): The annotation file; its folder is created if needed.
    """
    with atomic_path(out) as tmp, open(tmp, 'w') as f:
        f.writelines(f'{path} {label}\n' for path, label in subset)


@tool_main
def main() -> int:
    """Make the subset and write it.

    Returns:
        int: The exit status: 0 (a bad input: 2, see
        :func:`hexa_mm.utils.tool_main`).
    """
    args = parse_args()
    if osp.exists(args.out) and not args.force:
        raise ConfigError(f'{args.out} exists: pass --force to overwrite '
                          'it, or choose another OUT')
    classes = scan_classes(args.root)
    if args.from_list:
        subset = subset_from_list(classes, args.from_list)
    else:
        subset = balanced_subset(classes, args.seed, args.fraction,
                                 args.per_class)
    write_ann_file(subset, args.out)
    per_class = [0] * len(classes)
    for _, label in subset:
        per_class[label] += 1
    total = sum(len(files) for files in classes.values())
    print(f'wrote {args.out}: {len(subset)} of {total} images '
          f'({100 * len(subset) / total:.2f}%), {len(classes)} classes, '
          f'{min(per_class)}-{max(per_class)} per class')
    return 0


if __name__ == '__main__':
    sys.exit(main())
