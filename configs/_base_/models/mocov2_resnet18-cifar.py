# MoCo-v2 with a CIFAR ResNet-18 (3x3 stem, no max-pool) for 32 px images.
_base_ = './mocov2_resnet50.py'
model = dict(
    queue_len=4096,
    backbone=dict(type='ResNet_CIFAR', depth=18),
    neck=dict(in_channels=512, hid_channels=512))
