"""mmpretrain's ColorJitter with a hue shift that works on numpy 2."""
from typing import Dict

import cv2
import mmcv
import numpy as np
from mmpretrain.datasets.transforms import ColorJitter as _ColorJitter

from hexa_mm.registry import TRANSFORMS


def adjust_hue(img: np.ndarray, hue_factor: float) -> np.ndarray:
    """Rotate the hue of a BGR uint8 image by ``hue_factor`` of a turn.

    ``mmcv.adjust_hue`` (mmcv 2.1.0) computes ``np.uint8(hue_factor * 255)``,
    which numpy 2 refuses for a negative factor; this is the same rotation
    (on the 0–255 hue circle of OpenCV's ``*_FULL`` conversions) with the
    wrap-around done explicitly.

    Args:
        img (np.ndarray): BGR image, uint8, (H, W, 3).
        hue_factor (float): Shift in [-0.5, 0.5] of a full turn.

    Returns:
        np.ndarray: The image with its hue rotated.
    """
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f'hue_factor={hue_factor} is not in [-0.5, 0.5].')
    dtype = img.dtype
    h, s, v = cv2.split(cv2.cvtColor(img.astype(np.uint8),
                                     cv2.COLOR_BGR2HSV_FULL))
    shift = np.uint8(int(hue_factor * 255) % 256)
    with np.errstate(over='ignore'):
        h = h + shift
    return cv2.cvtColor(cv2.merge([h, s, v]),
                        cv2.COLOR_HSV2BGR_FULL).astype(dtype)


@TRANSFORMS.register_module()
class ColorJitter(_ColorJitter):
    """mmpretrain's ``ColorJitter``, usable with numpy 2.

    Same parameters and randomness as the parent; only the hue step goes
    through :func:`adjust_hue`. In configs with ``default_scope='hexa_mm'``
    this class answers to ``type='ColorJitter'``.
    """

    def transform(self, results: Dict) -> Dict:
        """Jitter brightness, contrast, saturation and hue in random order.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: The result dict with ``img`` jittered.
        """
        img = results['img']
        order, brightness, contrast, saturation, hue = self._rand_params()
        for index in order:
            if index == 0 and brightness is not None:
                img = mmcv.adjust_brightness(
                    img, brightness, backend=self.backend)
            elif index == 1 and contrast is not None:
                img = mmcv.adjust_contrast(img, contrast, backend=self.backend)
            elif index == 2 and saturation is not None:
                img = mmcv.adjust_color(
                    img, alpha=saturation, backend=self.backend)
            elif index == 3 and hue is not None:
                img = adjust_hue(img, hue)
        results['img'] = img
        return results
