"""Losses of hexa_mm."""
from .soft_cross_entropy import soft_cross_entropy

__all__ = ['soft_cross_entropy']
