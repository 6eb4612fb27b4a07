"""Hooks of hexa_mm."""
from .deepcluster_hook import DeepClusterHook
from .finite_loss_hook import FiniteLossHook
from .hard_example_warmup_hook import HardExampleWarmupHook
from .safe_checkpoint_hook import SafeCheckpointHook, checkpoint_due
from .sync_norm_buffers_hook import SyncNormBuffersHook
from .train_setup_check_hook import TrainSetupCheckHook

__all__ = [
    'TrainSetupCheckHook', 'DeepClusterHook', 'FiniteLossHook',
    'SafeCheckpointHook', 'SyncNormBuffersHook', 'checkpoint_due',
    'HardExampleWarmupHook'
]
