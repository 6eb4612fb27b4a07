# The Cityscapes benchmark at toy scale, to run here on the data written by
# tools/dataset_converters/make_tiny_downstream_data.py data/tiny_downstream
# Same model (SyncBN: runs as BN on a CPU), dataset class
# (CityscapesDataset, gtFine labelTrainIds) and IoUMetric with sliding-window
# inference; crops and scales 12-16 times smaller, 4 iterations of 2 images,
# then mIoU on the val split.
_base_ = '../cityscapes/fcn_r50-d8_4xb2-40k_cityscapes-769x769.py'

data_root = 'data/tiny_downstream/cityscapes'
crop_size = (64, 64)
scale = (128, 64)  # mmseg's (2049, 1025)
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
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
model = dict(
    data_preprocessor=dict(size=crop_size),
    # mmseg's 769x769 windows with stride 513
    test_cfg=dict(crop_size=crop_size, stride=(43, 43)))

train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
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
