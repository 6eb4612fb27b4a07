"""Support for tests, demos and tiny benchmark runs.

Nothing here registers a module, and nothing in ``hexa_mm.datasets``,
``hexa_mm.models``, ``hexa_mm.engine`` or ``hexa_mm.evaluation`` imports it:
``register_all_modules`` and ``import hexa_mm`` never load it. Tests and tools
import it explicitly.
"""
from .ports import free_port
from .tiny_downstream import make_tiny_downstream_data
from .tiny_models import (NARROW_RESNET18, cfg_options, deepcluster_cfg,
                          samples, tiny_deepcluster)

__all__ = [
    'NARROW_RESNET18', 'cfg_options', 'deepcluster_cfg', 'free_port',
    'make_tiny_downstream_data', 'samples', 'tiny_deepcluster'
]
