# Linear probe on the embedded digits (32 px), the ImageNet protocol scaled
# down: the frozen ResNet-18 of configs/mocov2/*_digits.py (batch norms in
# eval mode), a linear layer 512 -> 10, SGD momentum 0.9, no weight decay,
# 10 epochs, lr / 10 at epochs 6 and 8. Runs in under a minute on 2 CPU
# cores: bash tools/benchmarks/classification/dist_train.sh THIS PRETRAIN 2
# lr 0.01, not ImageNet's 30: these features are larger (norm ~46 for a
# MoCo-v2 backbone), and 30 gives losses of 1e4 and 10 % accuracy until it
# drops; 0.01 learns from the first epoch (grid on the val split:
# configs/benchmarks/classification/README.md).
_base_ = [
    'mmpretrain::_base_/models/resnet18.py',
    '../_base_/datasets/digits.py',
    'mmpretrain::_base_/default_runtime.py',
]
model = dict(
    backbone=dict(
        frozen_stages=4,
        norm_eval=True,
        # filled by tools/benchmarks/classification/dist_train.sh
        init_cfg=dict(type='Pretrained', checkpoint='')),
    head=dict(num_classes=10, topk=(1, )))

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[6, 8], gamma=0.1)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=10, val_interval=1)
val_cfg = dict()
test_cfg = dict()

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=10, max_keep_ckpts=1))
randomness = dict(seed=0)
