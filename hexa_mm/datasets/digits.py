"""scikit-learn's handwritten digits as a small embedded data set."""
from typing import List

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
    class-stratified split holds out ``val_fraction`` of the images.

    Args:
        split (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        img_size (int): Side of the returned images. Defaults to 32.
        val_fraction (float): Share of images in ``val``. Defaults to 0.2.
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
                 seed: int = 0,
                 subset_fraction: float = 1.0,
                 **kwargs) -> None:
        if split not in ('train', 'val'):
            raise ConfigError(
                f"Digits: split='{split}' must be 'train' or 'val'.")
        if not 0 < val_fraction < 1:
            raise ConfigError(
                f'Digits: val_fraction={val_fraction} must be in (0, 1).')
        if not 0 < subset_fraction <= 1:
            raise ConfigError(f'Digits: subset_fraction={subset_fraction} '
                              'must be in (0, 1].')
        self.split = split
        self.img_size = img_size
        self.val_fraction = val_fraction
        self.seed = seed
        self.subset_fraction = subset_fraction
        super().__init__(ann_file='', **kwargs)

    def load_data_list(self) -> List[dict]:
        """Load, resize and split the digits.

        Returns:
            list[dict]: ``img`` (H, W, 3) uint8 and ``gt_label`` per image.
        """
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        digits = load_digits()
        index = np.arange(len(digits.target))
        train, val = train_test_split(
            index,
            test_size=self.val_fraction,
            random_state=self.seed,
            stratify=digits.target)
        chosen = train if self.split == 'train' else val
        if self.subset_fraction < 1:
            chosen, _ = train_test_split(
                chosen,
                train_size=self.subset_fraction,
                random_state=self.seed,
                stratify=digits.target[chosen])
        chosen = np.sort(chosen)
        data_list = []
        for i in chosen:
            grey = (digits.images[i] * (255.0 / 16.0)).round().astype(np.uint8)
            big = np.asarray(
                Image.fromarray(grey).resize((self.img_size, ) * 2,
                                             Image.BICUBIC))
            data_list.append(
                dict(
                    img=np.repeat(big[:, :, None], 3, axis=2),
                    gt_label=int(digits.target[i])))
        return data_list
