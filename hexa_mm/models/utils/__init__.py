"""Model utilities of hexa_mm."""
from .batch_norm import frozen_norm_stats
from .kmeans import KMeansResult, assignment_table, spherical_kmeans
from .memory_bank import MemoryBank
from .pseudo_labels import CleanPass, PseudoLabels
from .split_batch_norm import SplitBatchNorm2d

__all__ = [
    'CleanPass', 'PseudoLabels', 'KMeansResult', 'MemoryBank',
    'SplitBatchNorm2d', 'assignment_table', 'frozen_norm_stats',
    'spherical_kmeans'
]
