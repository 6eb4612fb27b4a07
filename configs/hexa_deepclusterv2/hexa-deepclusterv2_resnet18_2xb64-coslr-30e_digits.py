# HEXA_DCluster on the embedded digits without multi-crop: the DeepCluster-v2
# 2-crop digits config (same model, crops, schedule and seed) plus CutMix and
# adversarial views of both crops (hexa_mm's default settings, not the
# paper's).
_base_ = [
    '../deepclusterv2/deepclusterv2_resnet18_2xb64-coslr-30e_digits.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
