# DeepCluster-v2 on the embedded digits at 16 px: the small-image recipe,
# one process (the global batch is 64). The recipe
# (configs/deepclusterv2/README.md): the MoCo-v2 recipe's CIFAR ResNet-18 at
# quarter width and views, projection 128-128-128, 3 prototype sets of 30
# clusters (k-means at every epoch start), temperature 0.2 (chosen on val;
# the published 0.1 was measured lower), SGD lr 0.03 for batch 64, wd 5e-4,
# cosine, 40 epochs; kNN and 5-shot on val every 5 epochs.
_base_ = [
    '../_base_/models/deepclusterv2_resnet50.py',
    '../_base_/datasets/digits16_deepclusterv2.py',
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
max_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=5e-4, momentum=0.9))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop',
    max_epochs=max_epochs,
    val_interval=5)
auto_scale_lr = dict(base_batch_size=64)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
