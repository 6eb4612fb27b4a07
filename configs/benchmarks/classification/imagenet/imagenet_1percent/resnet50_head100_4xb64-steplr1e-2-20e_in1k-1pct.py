# Semi-supervised ImageNet-1k with 1% of the labels: the whole ResNet-50 is
# fine-tuned with a new linear head, mmselfsup's recipe
# (configs/benchmarks/classification/imagenet/imagenet_1percent/): SGD,
# momentum 0.9, weight decay 5e-4, batch 256 (4 x 64), 20 epochs, lr x 0.2 at
# epochs 12 and 16, SyncBN. mmselfsup ships a grid, backbone lr in
# {0.1, 0.01, 0.001} x head lr multiplier in {1, 10, 100}, and reports the
# best point; this is MoCo-v2's best (OpenSelfSup and mmselfsup model zoos:
# lr 0.01, head x100). Other grid points through --cfg-options, e.g.
#   optim_wrapper.optimizer.lr=0.1
#   optim_wrapper.paramwise_cfg.custom_keys.head.lr_mult=1
# The labeled images are listed in data/imagenet/meta/train_1percent.txt
# (CLASS/IMAGE LABEL lines, relative to train/): write it with
# tools/dataset_converters/make_subset.py (--fraction 0.01, or --from-list
# with SimCLR's published 1percent.txt).
_base_ = [
    'mmpretrain::_base_/models/resnet50.py',
    'mmpretrain::_base_/datasets/imagenet_bs32_pil_resize.py',
    'mmpretrain::_base_/schedules/imagenet_sgd_steplr_100e.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN'),
        # filled by tools/benchmarks/classification/dist_train.sh
        init_cfg=dict(type='Pretrained', checkpoint='')))

train_dataloader = dict(
    batch_size=64,
    dataset=dict(ann_file='meta/train_1percent.txt', data_prefix='train'))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=100.)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=1)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=3))
