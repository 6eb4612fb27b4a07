# HEXA_DCluster on the embedded digits at 16 px: the DeepCluster-v2
# small-image recipe (same model, crops, schedule and seed) plus CutMix and
# adversarial views of the two assignment crops (configs/hexa_deepclusterv2/
# README.md; hexa_mm's settings, not the paper's). The hard-example losses
# are ramped in over the first 10 epochs, as HEXA_MoCo's (chosen there on
# the val split: without it one MoCo seed in three never left chance).
_base_ = [
    '../deepclusterv2/'
    'deepclusterv2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
custom_hooks = _base_.custom_hooks + [
    dict(type='HardExampleWarmupHook', epochs=10)
]
