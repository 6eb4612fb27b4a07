# HEXA_DCluster: DeepCluster-v2's published recipe (ResNet-50, 3 x 3000
# prototypes, multi-crop 2 x 224 + 6 x 96, LARS, 800 epochs) plus CutMix and
# adversarial views of the two assignment crops, whose targets are the
# source images' k-means assignments. The generator settings are hexa_mm's
# defaults (configs/_base_/models/hexa_hard_examples.py): the paper does not
# publish them.
_base_ = [
    '../deepclusterv2/'
    'deepclusterv2_resnet50_8xb64-mcrop-2-6-lars-coslr-800e_in1k.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
