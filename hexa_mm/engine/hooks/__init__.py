"""Hooks of hexa_mm."""
from .deepcluster_hook import DeepClusterHook
from .train_setup_check_hook import TrainSetupCheckHook

__all__ = ['TrainSetupCheckHook', 'DeepClusterHook']
