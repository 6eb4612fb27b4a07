"""Algorithms of hexa_mm."""
from .base import PseudoLabelAlgorithm
from .mocov2 import MoCoV2

__all__ = ['PseudoLabelAlgorithm', 'MoCoV2']
