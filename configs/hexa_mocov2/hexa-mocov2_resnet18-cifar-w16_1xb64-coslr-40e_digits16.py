# HEXA_MoCo on the embedded digits at 16 px: the MoCo-v2 small-image recipe
# (same model, data, schedule and seed) plus CutMix and adversarial query
# views, with the settings chosen on the val split (configs/hexa_mocov2/
# README.md; hexa_mm's choice, not the paper's): the hard-example losses are
# ramped in over the first 10 epochs (without it, one seed in three never
# left chance).
_base_ = [
    '../mocov2/mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
custom_hooks = [dict(type='HardExampleWarmupHook', epochs=10)]
