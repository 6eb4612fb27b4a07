# DeepCluster-v2 on the embedded digits at 16 px: the small-image recipe,
# one process (the global batch is 64). The recipe
# (configs/deepclusterv2/README.md): the MoCo-v2 recipe's CIFAR ResNet-18 at
# quarter width, views and schedule (SGD lr 0.03 for batch 64, wd 5e-4,
# cosine, 40 epochs; kNN and 5-shot on val every 5 epochs), projection
# 128-128-128, 3 prototype sets of 30 clusters (k-means at every epoch
# start), temperature 0.2 (chosen on val; the published 0.1 was measured
# lower).
_base_ = [
    '../_base_/models/deepclusterv2_resnet50.py',
    '../_base_/datasets/digits16_deepclusterv2.py',
    '../_base_/schedules/sgd_coslr-40e_digits16.py',
    '../_base_/default_runtime.py',
]
model = dict(
    num_prototypes=[30, 30, 30],
    temperature=0.2,
    data_preprocessor=dict(mean=[78.85] * 3, std=[88.94] * 3, to_rgb=False),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        stem_channels=16,
        base_channels=16,
        norm_cfg=dict(type='BN')),
    neck=dict(
        in_channels=128, hid_channels=128, norm_cfg=dict(type='BN1d')))
# one checkpoint, the last
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=_base_.max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
