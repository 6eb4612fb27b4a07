# MoCo-v2 schedule: SGD lr 0.03 (batch 256), momentum 0.9, wd 1e-4, cosine.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=1e-4, momentum=0.9))
# the cosine ends with training: its end (and T_max) default to the train
# loop's max_epochs, so a config changes the length in train_cfg alone
param_scheduler = [dict(type='CosineAnnealingLR', by_epoch=True, begin=0)]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=200)
auto_scale_lr = dict(base_batch_size=256)
