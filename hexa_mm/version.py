"""Version of hexa_mm."""
__version__ = '0.1.0'
