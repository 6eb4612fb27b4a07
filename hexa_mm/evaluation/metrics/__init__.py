"""Metrics of hexa_mm."""
from .few_shot import FewShotAccuracy
from .knn import KNNAccuracy

__all__ = ['FewShotAccuracy', 'KNNAccuracy']
