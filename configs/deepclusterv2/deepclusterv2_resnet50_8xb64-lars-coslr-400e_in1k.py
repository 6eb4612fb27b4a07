# DeepCluster-v2 without multi-crop (facebookresearch/swav
# deepclusterv2_400ep_2x224_pretrain: 70.2 linear top-1): ResNet-50, 3 x 3000
# prototypes, 2 x 224 px crops of scale (0.08, 1), 400 epochs. Optimiser as
# the 800-epoch config: LARS (trust 0.001), momentum 0.9, wd 1e-6, lr 4.8 for
# a batch of 4096 scaled linearly (8 x 64: 0.6), 10 warm-up epochs from
# 0.3/4.8 of it, cosine to 1/1000 of it.
_base_ = [
    '../_base_/models/deepclusterv2_resnet50.py',
    '../_base_/datasets/imagenet_deepclusterv2_2x224.py',
    '../_base_/default_runtime.py',
]
batch_size = 8 * 64
max_epochs = 400
warmup_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='LARS',
        lr=4.8 * batch_size / 4096,
        momentum=0.9,
        weight_decay=1e-6,
        eta=0.001))
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
        T_max=max_epochs - warmup_epochs,
        eta_min_ratio=0.0048 / 4.8,
        by_epoch=True,
        begin=warmup_epochs,
        end=max_epochs,
        convert_to_iter_based=True)
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(base_batch_size=batch_size)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
