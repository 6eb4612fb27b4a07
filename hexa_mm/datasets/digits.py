"""scikit-learn's handwritten digits as a small embedded data set."""
import functools
from typing import Dict, List, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset
from PIL import Image

from hexa_mm.registry import DATASETS
from hexa_mm.utils import ConfigError


@DATASETS.register_module()
class Digits(BaseDataset):
    """The 1,797 8×8 handwritten digits bundled with scikit-learn.

    Real data that ships with a package, so demos and tests run anywhere.
    Each 8×8 grey image (values 0–16) is scaled to 0–255, resized with
    bicubic interpolation to ``img_size`` and repeated to 3 channels. A fixed,
    seeded, class-stratified split holds out ``val_fraction`` of the images
    as ``val`` and, with ``test_fraction > 0``, a further ``test_fraction``
    as ``test``: the test images are taken first, then val from the rest, so
    that settings are chosen on val and reported once on test. With
    ``test_fraction=0`` (the default) the split is train/val only.

    Args:
        split (str): ``'train'``, ``'val'`` or ``'test'``. Defaults to
            ``'train'``.
        img_size (int): Side of the returned images. Defaults to 32.
        val_fraction (float): Share of all images in ``val``. Defaults to
            0.2.
        test_fraction (float): Share of all images in ``test``, in [0, 1);
            ``split='test'`` needs it > 0. Defaults to 0.
        seed (int): Seed of the split and of the subset. Defaults to 0.
        subset_fraction (float): Share of the split to keep, in (0, 1].
            Defaults to 1.
        **kwargs: Passed to :class:`mmpretrain.datasets.BaseDataset`
            (``pipeline``, ``test_mode``, ``indices``...).
    """

    METAINFO = {'classes': tuple(str(i) for i in range(10))}

    def __init__(self,
                 split: str = 'train',
                 img_size: int = 32,
                 val_fraction: float = 0.2,
                 test_fraction: float = 0.0,
                 seed: int = 0,
                 subset_fraction: float = 1.0,
                 **kwargs) -> None:
        if split not in ('train', 'val', 'test'):
            raise ConfigError(f"Digits: split='{split}' must be 'train', "
                              "'val' or 'test'.")
        if not 0 < val_fraction < 1:
            raise ConfigError(
                f'Digits: val_fraction={val_fraction} must be in (0, 1).')
        if not 0 <= test_fraction < 1 - val_fraction:
            raise ConfigError(
                f'Digits: test_fraction={test_fraction} must be in [0, '
                f'{1 - val_fraction:g}) so that train keeps images.')
        if split == 'test' and test_fraction == 0:
            raise ConfigError(
                "Digits: split='test' needs test_fraction > 0 (e.g. 0.2).")
        if not 0 < subset_fraction <= 1:
            raise ConfigError(f'Digits: subset_fraction={subset_fraction} '
                              'must be in (0, 1].')
        self.split = split
        self.img_size = img_size
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        self.seed = seed
        self.subset_fraction = subset_fraction
        super().__init__(ann_file='', **kwargs)

    def split_indices(self, labels: np.ndarray) -> Dict[str, np.ndarray]:
        """The seeded, stratified split of all images.

        Args:
            labels (np.ndarray): The class of every image.

        Returns:
            dict[str, np.ndarray]: Indices of ``train``, ``val`` and, with
            ``test_fraction > 0``, ``test``.
        """
        from sklearn.model_selection import train_test_split
        index = np.arange(len(labels))
        parts = {}
        if self.test_fraction > 0:
            index, parts['test'] = train_test_split(
                index,
                test_size=self.test_fraction,
                random_state=self.seed,
                stratify=labels)
        parts['train'], parts['val'] = train_test_split(
            index,
            test_size=self.val_fraction / (1 - self.test_fraction),
            random_state=self.seed,
            stratify=labels[index])
        return parts

    def load_data_list(self) -> List[dict]:
        """Load, resize and split the digits.

        Returns:
            list[dict]: ``img`` (H, W, 3) uint8 and ``gt_label`` per image.
        """
        from sklearn.model_selection import train_test_split
        images, targets = _resized_digits(self.img_size)
        chosen = self.split_indices(targets)[self.split]
        if self.subset_fraction < 1:
            chosen, _ = train_test_split(
                chosen,
                train_size=self.subset_fraction,
                random_state=self.seed,
                stratify=targets[chosen])
        chosen = np.sort(chosen)
        return [
            dict(
                img=np.repeat(images[i][:, :, None], 3, axis=2),
                gt_label=int(targets[i])) for i in chosen
        ]


@functools.lru_cache(maxsize=4)
def _resized_digits(img_size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Every digit scaled to 0-255 and resized, made once a process for
    each size (a run builds its train, bank and query sets from them).

    Args:
        img_size (int): The side of the images.

    Returns:
        tuple[np.ndarray, np.ndarray]: The grey images (N, img_size,
        img_size) uint8, read-only, and their classes (N, ).
    """
    from sklearn.datasets import load_digits
    digits = load_digits()
    images = np.stack([
        np.asarray(
            Image.fromarray(
                (grey * (255.0 / 16.0)).round().astype(np.uint8)).resize(
                    (img_size, ) * 2, Image.BICUBIC))
        for grey in digits.images
    ])
    images.flags.writeable = False
    targets = digits.target.copy()
    targets.flags.writeable = False
    return images, targets
