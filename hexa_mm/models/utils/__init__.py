"""Model utilities of hexa_mm."""
from .pseudo_labels import CleanPass, PseudoLabels

__all__ = ['CleanPass', 'PseudoLabels']
