# MoCo-v2 on the embedded digits (32 px): the demo, minutes on 2 CPU cores.
# ResNet-18 (standard stem), queue 1024, lr 0.06 for a global batch of 128,
# kNN top-1 on the val split after every epoch.
_base_ = [
    '../_base_/models/mocov2_resnet50.py',
    '../_base_/datasets/digits_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    queue_len=1024,
    data_preprocessor=dict(mean=[78.85] * 3, std=[88.94] * 3, to_rgb=False),
    backbone=dict(type='ResNet', depth=18),
    neck=dict(in_channels=512, hid_channels=512))
optim_wrapper = dict(optimizer=dict(lr=0.06))
train_cfg = dict(max_epochs=30, val_interval=1)
# the lr above is for 2 x 64 (--auto-scale-lr scales it from there)
auto_scale_lr = dict(base_batch_size=128)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=10, max_keep_ckpts=1))
randomness = dict(seed=0)
