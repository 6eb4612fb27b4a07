# MoCo-v2 on the embedded digits at 16 px: the small-image recipe, one
# process (the global batch is 64), minutes on one CPU core. The recipe
# (configs/mocov2/README.md): a CIFAR ResNet-18 (3x3 stem, no
# max-pool; mmpretrain's ResNet_CIFAR) at quarter width (16 channels in
# the stem), MLP 128-128-128, queue 256 (a quarter of the 1,077 train
# images, so that an image's own older key is rarely a negative),
# temperature 0.2, key-encoder momentum 0.99, SGD lr 0.03 for batch 64, wd
# 5e-4, cosine, 40 epochs; kNN and 5-shot on val every 5 epochs.
_base_ = [
    '../_base_/datasets/digits16_mocov2.py',
    '../_base_/default_runtime.py',
]
model = dict(
    type='MoCoV2',
    queue_len=256,
    feat_dim=128,
    momentum=0.01,  # EMA momentum; m = 0.99
    temperature=0.2,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[78.85] * 3,
        std=[88.94] * 3,
        to_rgb=False),
    backbone=dict(
        type='ResNet_CIFAR',
        depth=18,
        stem_channels=16,
        base_channels=16,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=128,
        hid_channels=128,
        out_channels=128,
        with_avg_pool=True),
    hard_examples=[])
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
