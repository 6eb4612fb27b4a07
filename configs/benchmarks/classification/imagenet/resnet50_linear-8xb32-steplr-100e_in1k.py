# Linear probe on ImageNet-1k, the MoCo v1/v2 protocol (He et al. 2020,
# arXiv 1911.05722; facebookresearch/moco main_lincls.py), as mmselfsup's
# configs/benchmarks/classification/imagenet/
# resnet50_linear-8xb32-steplr-100e_in1k.py: frozen ResNet-50 (batch norms in
# eval mode too), a linear layer 2048 -> 1000 on the pooled features, SGD
# lr 30, momentum 0.9, no weight decay, batch 256 (8 x 32), 100 epochs, lr / 10
# at epochs 60 and 80. RandomResizedCrop 224 + flip; val: resize 256, centre
# crop 224.
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        # filled by tools/benchmarks/classification/dist_train.sh
        init_cfg=dict(type='Pretrained', checkpoint='')))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=30., momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[60, 80], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100, val_interval=1)

default_hooks = dict(
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
