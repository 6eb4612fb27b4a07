# MoCo-v2 on the embedded digits at 16 px, trained longer: the 40-epoch
# small-image recipe (mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py)
# with batch norm over 8 groups of the batch (SplitBN, 8 images a statistic)
# and 148 epochs, the cosine over all of them. Chosen on val among the
# longer variants (configs/mocov2/README.md): the one whose kNN and 5-shot
# both clear raw pixels. What `make demo` trains.
_base_ = './mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py'
max_epochs = 148
model = dict(backbone=dict(norm_cfg=dict(type='SplitBN', num_splits=8)))
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
