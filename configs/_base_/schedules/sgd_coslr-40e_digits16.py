# The schedule of the small-image recipes on the 16 px digits (MoCo-v2's and
# DeepCluster-v2's, and so HEXA's; configs/mocov2/README.md): SGD lr 0.03 for
# a batch of 64, momentum 0.9, wd 5e-4, cosine over 40 epochs; kNN and 5-shot
# on val every 5 epochs. Unlike the other schedules, the cosine names its
# end (T_max, end): these are the values the measured digits16 runs were
# trained (and keyed by tools/analysis/hexa_quality.py) with. Change the
# length with tools/train.py --max-epochs, which moves both.
max_epochs = 40
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.03, weight_decay=5e-4, momentum=0.9))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(
    type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs, val_interval=5)
auto_scale_lr = dict(base_batch_size=64)
