"""Algorithms of hexa_mm."""
from .bank_clustering import BankClustering, PrototypeSet
from .base import PseudoLabelAlgorithm
from .deepclusterv2 import DeepClusterV2
from .mocov2 import MoCoV2

__all__ = [
    'BankClustering', 'PrototypeSet', 'PseudoLabelAlgorithm', 'MoCoV2',
    'DeepClusterV2'
]
