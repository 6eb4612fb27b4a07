# scikit-learn's digits (embedded) at 16 px, split three ways as in
# digits16_mocov2.py; DeepCluster-v2 views: 2 crops of 16 px, clustered and
# predicted, with the same digit-keeping augmentations as MoCo-v2's.
_base_ = ['./digits16_mocov2.py']
num_crops = [2]
train_pipeline = [
    dict(
        type='MultiView',
        num_views=num_crops,
        transforms=[{{_base_.view_pipeline}}]),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
