# scikit-learn's digits (embedded, no download) at 32 px, DeepCluster-v2
# views: 2 x 32 px crops (clustered) + 4 x 16 px small crops (predicted only).
# Horizontal flip is left out: a mirrored digit is often another digit.
dataset_type = 'Digits'

num_crops = [2, 4]
view_pipeline1 = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.3, 1.),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
]
view_pipeline2 = [
    dict(
        type='RandomResizedCrop',
        scale=16,
        crop_ratio_range=(0.1, 0.3),
        backend='pillow'),
    dict(
        type='RandomApply',
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.4,
                contrast=0.4,
                saturation=0.4,
                hue=0.1)
        ],
        prob=0.8),
]
train_pipeline = [
    dict(
        type='MultiView',
        num_views=num_crops,
        transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='KNNDataset',
        bank=dict(type=dataset_type, split='train', pipeline=test_pipeline),
        query=dict(type=dataset_type, split='val', pipeline=test_pipeline)))
val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.07)
val_cfg = dict()
