# MoCo-v2 on CIFAR-10: CIFAR ResNet-18, 8 x 32 images, queue 4096, 200 epochs,
# kNN (k=200) on the test split every 10 epochs.
_base_ = [
    '../_base_/models/mocov2_resnet18-cifar.py',
    '../_base_/datasets/cifar10_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    data_preprocessor=dict(
        mean=[125.307, 122.961, 113.8575],
        std=[51.5865, 50.847, 51.255],
        to_rgb=False))
train_cfg = dict(val_interval=10)
