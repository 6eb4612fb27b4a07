# scikit-learn's digits (embedded, no download) at 32 px, DeepCluster-v2
# views: 2 x 32 px crops (clustered) + 4 x 16 px small crops (predicted only).
# Horizontal flip is left out: a mirrored digit is often another digit.
_base_ = ['./digits_mocov2.py']

num_crops = [2, 4]
view_pipeline1 = [
    dict(_base_.random_resized_crop, scale=32, crop_ratio_range=(0.3, 1.)),
    _base_.color_jitter,
]
view_pipeline2 = [
    dict(_base_.random_resized_crop, scale=16, crop_ratio_range=(0.1, 0.3)),
    _base_.color_jitter,
]
train_pipeline = [
    dict(
        type='MultiView',
        num_views=num_crops,
        transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
