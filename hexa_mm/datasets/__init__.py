"""Data sets of hexa_mm."""
from .checked import CIFAR10, ImageNet
from .digits import Digits
from .knn_dataset import KNNDataset
from .transforms import *  # noqa: F401,F403

__all__ = ['CIFAR10', 'Digits', 'ImageNet', 'KNNDataset']
