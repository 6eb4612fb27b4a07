# MoCo-v2 schedule: SGD lr 0.03 (batch 256), momentum 0.9, wd 1e-4, cosine.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=1e-4, momentum=0.9))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=200, by_epoch=True, begin=0, end=200)
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
