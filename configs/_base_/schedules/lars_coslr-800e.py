# DeepCluster-v2's schedule (facebookresearch/swav deepclusterv2_800ep):
# LARS (trust 0.001, on every parameter as the reference's LARC), momentum
# 0.9, wd 1e-6, lr 4.8 for a batch of 4096 scaled linearly to 8 x 64 (0.6),
# 10 warm-up epochs from 0.3/4.8 of it, then cosine to 1/1000 of it.
warmup_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS',
        lr=4.8 * 8 * 64 / 4096,
        momentum=0.9,
        weight_decay=1e-6,
        eta=0.001))
# the cosine ends with training: its end (and T_max) default to the train
# loop's max_epochs, so a config changes the length in train_cfg alone
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=0.3 / 4.8,
        by_epoch=True,
        begin=0,
        end=warmup_epochs,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        eta_min_ratio=0.0048 / 4.8,
        by_epoch=True,
        begin=warmup_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=800)
auto_scale_lr = dict(base_batch_size=8 * 64)
