"""Metrics of hexa_mm."""
from .knn import KNNAccuracy

__all__ = ['KNNAccuracy']
