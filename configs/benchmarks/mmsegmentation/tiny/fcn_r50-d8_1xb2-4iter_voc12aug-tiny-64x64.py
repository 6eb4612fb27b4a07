# The VOC12aug benchmark at toy scale, to run here on the data written by
# tools/dataset_converters/make_tiny_downstream_data.py data/tiny_downstream
# Same model (SyncBN: runs as BN on a CPU), dataset classes
# (PascalVOCDataset, VOC12 train + aug ConcatDataset) and IoUMetric; crops and
# scales 8 times smaller, 4 iterations of 2 images, then mIoU on VOC12 val.
_base_ = '../voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'

data_root = 'data/tiny_downstream/VOCdevkit/VOC2012'
crop_size = (64, 64)
scale = (256, 64)  # mmseg's (2048, 512)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=scale,
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='Pad', size=crop_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
model = dict(data_preprocessor=dict(size=crop_size))

dataset_train = dict(
    _base_.dataset_train, data_root=data_root, pipeline=train_pipeline)
dataset_aug = dict(
    _base_.dataset_aug, data_root=data_root, pipeline=train_pipeline)
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(datasets=[dataset_train, dataset_aug]))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = dict(
    logger=dict(interval=1),
    # a smoke run: no 400 MB checkpoint at the end
    checkpoint=dict(save_last=False))
