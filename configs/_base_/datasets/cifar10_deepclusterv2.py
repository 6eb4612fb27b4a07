# CIFAR-10 (python-pickle files), DeepCluster-v2 views at 32 px as in
# solo-learn's CIFAR recipe: 2 crops of scale (0.08, 1), colour jitter
# (0.4, 0.4, 0.2, 0.1) p=0.8, grayscale p=0.2, flip; kNN monitor.
# Layout: data/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch,...}
dataset_type = 'CIFAR10'
data_root = 'data/cifar10/'

view_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.08, 1.),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.2,
                hue=0.1)
        ],
        prob=0.8),
    dict(
        type='RandomGrayscale',
        prob=0.2,
        keep_channels=True,
        channel_weights=(0.114, 0.587, 0.2989)),
    dict(type='RandomFlip', prob=0.5),
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=32,
    num_workers=4,
    drop_last=True,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='KNNDataset',
        bank=dict(
            type=dataset_type,
            data_root=data_root,
            split='train',
            pipeline=test_pipeline),
        query=dict(
            type=dataset_type,
            data_root=data_root,
            split='test',
            pipeline=test_pipeline)))
val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.07)
val_cfg = dict()
