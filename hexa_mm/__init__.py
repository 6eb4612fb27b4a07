"""hexa_mm: self-supervised visual pre-training with hard examples.

Importing the package registers all its modules (as importing mmpretrain
does), so ``custom_imports=dict(imports=['hexa_mm'])`` lets any OpenMMLab
entry point build hexa_mm's types; see :mod:`hexa_mm.registry`.
"""
from .setup_env import register_all_modules
from .version import __version__

register_all_modules(init_default_scope=False)

__all__ = ['__version__', 'register_all_modules']
