"""Hard-example generators of hexa_mm."""
from .base import BaseHardExample

__all__ = ['BaseHardExample']
