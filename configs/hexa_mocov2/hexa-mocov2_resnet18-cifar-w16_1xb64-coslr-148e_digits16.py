# HEXA_MoCo on the embedded digits at 16 px, trained longer: the 148-epoch
# MoCo-v2 recipe (SplitBN over 8 groups; configs/mocov2/README.md) plus
# CutMix and adversarial query views with the defaults of the 40-epoch
# config (configs/hexa_mocov2/README.md), the hard-example losses ramped in
# over the first 10 epochs. What `make demo` trains.
_base_ = [
    '../mocov2/mocov2_resnet18-cifar-w16_1xb64-coslr-148e_digits16.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
custom_hooks = [dict(type='HardExampleWarmupHook', epochs=10)]
