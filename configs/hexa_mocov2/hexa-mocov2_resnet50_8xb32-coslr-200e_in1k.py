# HEXA_MoCo: MoCo-v2's published recipe (ResNet-50, 8 GPUs x 32 images, 200
# epochs) plus CutMix and adversarial query views. The generator settings are
# hexa_mm's defaults (configs/_base_/models/hexa_hard_examples.py): the paper
# does not publish them.
_base_ = [
    '../mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
