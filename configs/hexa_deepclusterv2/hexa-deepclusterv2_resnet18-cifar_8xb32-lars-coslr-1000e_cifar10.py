# HEXA_DCluster on CIFAR-10: the DeepCluster-v2 CIFAR-10 config plus CutMix
# and adversarial views of the assignment crops (hexa_mm's default settings,
# not the paper's).
_base_ = [
    '../deepclusterv2/'
    'deepclusterv2_resnet18-cifar_8xb32-lars-coslr-1000e_cifar10.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
