# DeepCluster-v2 on CIFAR-10 after solo-learn's recipe
# (scripts/pretrain/cifar/deepclusterv2.yaml): CIFAR ResNet-18, projection
# 512-2048-128, 3 x 3000 prototypes, 2 x 32 px crops, 1000 epochs; LARS
# (trust 0.02, biases and norms excluded and without weight decay),
# lr 0.6 for a batch of 256 (8 x 32), wd 1e-6, 10 warm-up epochs, cosine to
# 1/1000 of the lr; kNN (k=200) on the test split every 10 epochs.
_base_ = [
    '../_base_/models/deepclusterv2_resnet18-cifar.py',
    '../_base_/datasets/cifar10_deepclusterv2.py',
    '../_base_/schedules/lars_coslr-800e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False))
optim_wrapper = dict(
    optimizer=dict(lr=0.6, eta=0.02),
    paramwise_cfg=dict(
        custom_keys={
            'bn': dict(decay_mult=0, lars_exclude=True),
            'bias': dict(decay_mult=0, lars_exclude=True),
            'downsample.1': dict(decay_mult=0, lars_exclude=True),
        }))
param_scheduler = [
    dict(_base_.param_scheduler[0], start_factor=1e-3),
    dict(_base_.param_scheduler[1], eta_min_ratio=1e-3),
]
train_cfg = dict(max_epochs=1000, val_interval=10)
auto_scale_lr = dict(base_batch_size=256)
default_hooks = dict(checkpoint=dict(interval=50, max_keep_ckpts=3))
