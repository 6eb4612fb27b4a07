"""Algorithms of hexa_mm."""
from .base import PseudoLabelAlgorithm
from .deepclusterv2 import DeepClusterV2
from .mocov2 import MoCoV2

__all__ = ['PseudoLabelAlgorithm', 'MoCoV2', 'DeepClusterV2']
