# HEXA_MoCo on CIFAR-10: the MoCo-v2 CIFAR-10 config plus CutMix and
# adversarial query views (hexa_mm's default settings, not the paper's).
_base_ = [
    '../mocov2/mocov2_resnet18-cifar_8xb32-coslr-200e_cifar10.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
