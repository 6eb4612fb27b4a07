"""Hooks of hexa_mm."""
from .train_setup_check_hook import TrainSetupCheckHook

__all__ = ['TrainSetupCheckHook']
