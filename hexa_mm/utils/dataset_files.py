"""Check, before anything is built, that a config's data files exist.

OpenMMLab datasets open their annotation files deep inside the runner, and a
missing one surfaces as a bare ``FileNotFoundError`` (or, for folder-scanning
datasets, as an empty data set). This finds every dataset config of the
train / val / test dataloaders (through ``ConcatDataset``'s ``datasets``,
``KNNDataset``'s ``bank`` and ``query`` and the wrappers' ``dataset``) and
checks its ``ann_file`` and ``data_prefix`` the way mmengine's
``BaseDataset`` joins them with ``data_root``; for
mmpretrain's ``ImageNet``, whose configs give ``data_root`` and ``split``
only, the folder ``data_root/split`` that the dataset scans.
"""
import os.path as osp
from typing import Iterator, List, Tuple

from mmengine.config import Config

from .errors import ConfigError

__all__ = ['check_dataset_files', 'dataset_paths']

DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')
# Datasets whose ``split`` is the image folder when ``data_prefix`` is empty.
SPLIT_FOLDER_TYPES = ('ImageNet', )


def _datasets(cfg: dict) -> Iterator[dict]:
    """Every leaf dataset config under a dataset config.

    Args:
        cfg (dict): A dataset config.

    Yields:
        dict: Dataset configs that do not wrap others.
    """
    if 'datasets' in cfg:
        for child in cfg['datasets']:
            yield from _datasets(child)
    elif isinstance(cfg.get('bank'), dict):  # hexa_mm's KNNDataset
        yield from _datasets(cfg['bank'])
        yield from _datasets(cfg['query'])
    elif isinstance(cfg.get('dataset'), dict):
        yield from _datasets(cfg['dataset'])
    else:
        yield cfg


def _join(data_root: str, path: str) -> str:
    """Join as mmengine's ``BaseDataset`` does.

    Args:
        data_root (str): The dataset's ``data_root`` (may be empty).
        path (str): A path relative to it, or absolute.

    Returns:
        str: The joined path.
    """
    return path if osp.isabs(path) or not data_root else osp.join(
        data_root, path)


def dataset_paths(cfg: Config) -> List[Tuple[str, str, str]]:
    """The files and folders a config's datasets need.

    Args:
        cfg (Config): A training config.

    Returns:
        list[tuple[str, str, str]]: ``(dataloader, field, path)`` for every
        non-empty ``ann_file`` and ``data_prefix`` entry, and the folder of
        a ``split`` that stands for ``data_prefix``.
    """
    paths = []
    for loader in DATALOADERS:
        loader_cfg = cfg.get(loader)
        if not loader_cfg or 'dataset' not in loader_cfg:
            continue
        for dataset in _datasets(loader_cfg['dataset']):
            root = dataset.get('data_root') or ''
            if dataset.get('ann_file'):
                paths.append(
                    (loader, 'ann_file', _join(root, dataset['ann_file'])))
            prefix = dataset.get('data_prefix') or {}
            if not prefix and dataset.get('split') and str(
                    dataset.get('type')).split('.')[-1] in SPLIT_FOLDER_TYPES:
                paths.append((loader, f'split {dataset["split"]!r}',
                              _join(root, dataset['split'])))
            if isinstance(prefix, str):
                prefix = dict(data_prefix=prefix)
            for key, value in prefix.items():
                if isinstance(value, str) and value:
                    paths.append((loader, f'data_prefix.{key}',
                                  _join(root, value)))
    return paths


def check_dataset_files(cfg: Config) -> None:
    """Raise a one-line error for the first missing data file or folder.

    Args:
        cfg (Config): A training config.

    Raises:
        ConfigError: Naming the missing path, the field that asks for it and
            how to fix it.
    """
    for loader, field, path in dataset_paths(cfg):
        if not osp.exists(path):
            raise ConfigError(
                f'{loader}: {field} {path} does not exist: set data_root (or '
                'the dataset fields) to the data set; '
                'tools/dataset_converters/ has make_subset.py '
                '(classification subsets) and '
                'make_tiny_downstream_data.py (tiny VOC / COCO / Cityscapes)')
