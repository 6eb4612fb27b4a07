# MoCo-v2 on the embedded digits at 16 px: the small-image recipe, one
# process (the global batch is 64), minutes on one CPU core. The recipe
# (configs/mocov2/README.md): a CIFAR ResNet-18 (3x3 stem, no max-pool;
# mmpretrain's ResNet_CIFAR) at quarter width (16 channels in the stem)
# whose batch norm takes its statistics over 4 groups of the batch (SplitBN:
# shuffled batch norm on one device, as in MoCo's single-GPU CIFAR demo),
# MLP 128-128-128, queue 256 (a quarter of the 1,077 train images, so that
# an image's own older key is rarely a negative), temperature 0.2,
# key-encoder momentum 0.99, SGD lr 0.03 for batch 64, wd 5e-4, cosine, 40
# epochs; kNN and 5-shot on val every 5 epochs.
_base_ = [
    '../_base_/models/mocov2_resnet18-cifar.py',
    '../_base_/datasets/digits16_mocov2.py',
    '../_base_/schedules/sgd_coslr-40e_digits16.py',
    '../_base_/default_runtime.py',
]
model = dict(
    queue_len=256,
    momentum=0.01,  # EMA momentum; m = 0.99
    data_preprocessor=dict(mean=[78.85] * 3, std=[88.94] * 3, to_rgb=False),
    backbone=dict(
        stem_channels=16,
        base_channels=16,
        norm_cfg=dict(type='SplitBN', num_splits=4)),
    neck=dict(in_channels=128, hid_channels=128))
# one checkpoint, the last
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=_base_.max_epochs, max_keep_ckpts=1))
randomness = dict(seed=0)
