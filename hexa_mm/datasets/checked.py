"""mmpretrain's ImageNet and CIFAR-10 with a clear error for a bad root."""
import os
import os.path as osp
from typing import List

from mmpretrain.datasets import CIFAR10 as _CIFAR10
from mmpretrain.datasets import ImageNet as _ImageNet

from hexa_mm.registry import DATASETS
from hexa_mm.utils import ConfigError


@DATASETS.register_module()
class ImageNet(_ImageNet):
    """mmpretrain's ImageNet, refusing a missing or empty split folder.

    Expected layout: ``{data_root}/{split}/{class}/{image}`` (with an optional
    ``{data_root}/meta/{split}.txt`` list of ``path label`` lines).

    Args:
        data_root (str): Root of the data set.
        split (str): ``train``, ``val`` or ``test``.
        **kwargs: Passed to mmpretrain's ``ImageNet``.
    """

    def __init__(self, data_root: str = '', split: str = '', **kwargs):
        folder = osp.join(data_root, kwargs.get('data_prefix', '') or split)
        ann = osp.join(data_root, kwargs.get('ann_file', '')
                       or osp.join('meta', f'{split}.txt'))
        has_images = any(files for _, _, files in os.walk(folder))
        if not osp.isfile(ann) and not has_images:
            raise ConfigError(
                f'ImageNet: no images under {folder!r}; expected '
                f'{{data_root}}/{split}/<class>/<image>.JPEG (or a list file '
                f'{ann!r}). Set data_root to the folder holding {split}/.')
        super().__init__(data_root=data_root, split=split, **kwargs)


@DATASETS.register_module()
class CIFAR10(_CIFAR10):
    """mmpretrain's CIFAR-10 from the python-pickle files, never downloaded.

    Expected layout: ``{data_root}/cifar-10-batches-py/{data_batch_1..5,
    test_batch, batches.meta}`` as unpacked from ``cifar-10-python.tar.gz``.
    Files are checked for presence, not checksums (so a small subset in the
    same format also loads).

    Args:
        data_root (str): Root of the data set.
        split (str): ``train`` or ``test``.
        **kwargs: Passed to mmpretrain's ``CIFAR10``.
    """

    def __init__(self, data_root: str = '', split: str = 'train', **kwargs):
        kwargs['download'] = False
        super().__init__(data_root=data_root, split=split, **kwargs)

    def _check_integrity(self) -> bool:
        """Check the files are there; raise a clear error if not.

        Returns:
            bool: True.
        """
        root = osp.join(self.data_prefix['root'], self.base_folder)
        names: List[str] = [f[0] for f in self.train_list + self.test_list]
        names.append(self.meta['filename'])
        missing = [n for n in names if not osp.isfile(osp.join(root, n))]
        if missing:
            raise ConfigError(
                f'CIFAR10: {root!r} lacks {", ".join(missing)}; expected '
                '{data_root}/cifar-10-batches-py/ with data_batch_1..5, '
                'test_batch and batches.meta (unpack cifar-10-python.tar.gz '
                'there).')
        return True
