# The VOC07+12 benchmark at toy scale, to run here on the data written by
# tools/dataset_converters/make_tiny_downstream_data.py data/tiny_downstream
# Same model (SyncBN: runs as BN on a CPU), dataset class
# (VOCDataset, VOC07+12 trainval -> VOC07 test) and VOCMetric; images about
# 12 times smaller, fewer proposals and RoIs, 4 iterations of 2 images, then
# VOC07 test.
_base_ = [
    '../voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py', '../_base_/tiny.py'
]

data_root = 'data/tiny_downstream/VOCdevkit/'
model = _base_.tiny_model

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='RandomChoiceResize',
        scales=_base_.tiny_train_scales,
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=_base_.tiny_test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    _base_.tiny_loader,
    batch_size=2,
    dataset=dict(datasets=[
        dict(
            type='VOCDataset',
            data_root=data_root,
            ann_file=f'{year}/ImageSets/Main/trainval.txt',
            data_prefix=dict(sub_data_root=f'{year}/'),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=train_pipeline) for year in ('VOC2007', 'VOC2012')
    ]))
val_dataloader = dict(
    _base_.tiny_loader,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=4, val_interval=4)
default_hooks = _base_.tiny_hooks
