# Semi-supervised digits with 10% of the labels: the ImageNet 1% / 10%
# recipe (mmselfsup; whole network fine-tuned, SGD momentum 0.9, weight
# decay 1e-4, 20 epochs, lr x 0.2 at epochs 12 and 16, SyncBN, BN on CPU) on
# a seeded, class-stratified 10% of the digits train split (143 images, 14-15
# per class; Digits' subset_fraction and seed). Grid point lr 0.01, head x1:
# ImageNet's head x100 diverges here (see the README).
# Runs in about a minute on 2 CPU cores:
#   bash tools/benchmarks/classification/dist_train.sh THIS PRETRAIN 2
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../_base_/datasets/digits.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        norm_cfg=dict(type='SyncBN'),
        # filled by tools/benchmarks/classification/dist_train.sh
        init_cfg=dict(type='Pretrained', checkpoint='')),
    head=dict(num_classes=10, topk=(1, )))

train_dataloader = dict(
    batch_size=32, dataset=dict(subset_fraction=0.1, seed=0))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(custom_keys={'head': dict(lr_mult=1.)}))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16], gamma=0.2)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=5),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=1))
randomness = dict(seed=0)
