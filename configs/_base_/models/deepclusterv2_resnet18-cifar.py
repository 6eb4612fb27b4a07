# DeepCluster-v2 with a CIFAR ResNet-18 (3x3 stem, no max-pool) for 32 px
# images: projection 512-2048-128, plain BN as in the MoCo-v2 CIFAR config.
_base_ = './deepclusterv2_resnet50.py'
model = dict(
    backbone=dict(type='ResNet_CIFAR', depth=18, norm_cfg=dict(type='BN')),
    neck=dict(in_channels=512, norm_cfg=dict(type='BN1d')))
