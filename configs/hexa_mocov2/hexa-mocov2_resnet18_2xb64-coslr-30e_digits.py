# HEXA_MoCo on the embedded digits: the MoCo-v2 digits demo config (same
# model, data, schedule and seed) plus CutMix and adversarial query views
# (hexa_mm's default settings, not the paper's).
_base_ = [
    '../mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py',
    '../_base_/models/hexa_hard_examples.py',
]
model = dict(hard_examples=_base_.hexa_hard_examples)
