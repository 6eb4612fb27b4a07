"""hexa_mm: self-supervised visual pre-training with hard examples."""
from .version import __version__

__all__ = ['__version__']
