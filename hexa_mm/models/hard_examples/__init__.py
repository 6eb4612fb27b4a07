"""Hard-example generators of hexa_mm."""
from .adversarial import AdversarialHardExample
from .base import BaseHardExample
from .cutmix import CutMixBatch, CutMixHardExample

__all__ = [
    'AdversarialHardExample', 'BaseHardExample', 'CutMixBatch',
    'CutMixHardExample'
]
