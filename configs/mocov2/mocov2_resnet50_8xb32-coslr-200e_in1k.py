# MoCo-v2, the published recipe: ResNet-50, 8 GPUs x 32 images, 200 epochs.
_base_ = [
    '../_base_/models/mocov2_resnet50.py',
    '../_base_/datasets/imagenet_mocov2.py',
    '../_base_/schedules/sgd_coslr-200e.py',
    '../_base_/default_runtime.py',
]
