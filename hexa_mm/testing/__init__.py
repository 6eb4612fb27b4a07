"""Support for tests, demos and tiny benchmark runs.

Nothing here registers a module, and nothing in ``hexa_mm.datasets``,
``hexa_mm.models``, ``hexa_mm.engine`` or ``hexa_mm.evaluation`` imports it:
``register_all_modules`` and ``import hexa_mm`` never load it. Tests and tools
import it explicitly.
"""
from .tiny_downstream import make_tiny_downstream_data

__all__ = ['make_tiny_downstream_data']
