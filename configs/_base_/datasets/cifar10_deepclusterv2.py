# CIFAR-10 (python-pickle files), DeepCluster-v2 views at 32 px as in
# solo-learn's CIFAR recipe: 2 crops of scale (0.08, 1), colour jitter
# (0.4, 0.4, 0.2, 0.1) p=0.8, grayscale p=0.2, flip; kNN monitor.
# Layout: data/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch,...}
_base_ = ['./cifar10_mocov2.py']

view_pipeline = [
    dict(_base_.view_pipeline[0], crop_ratio_range=(0.08, 1.)),
    dict(
        _base_.color_jitter,
        transforms=[dict(_base_.color_jitter.transforms[0], saturation=0.2)]),
    *_base_.view_pipeline[2:],
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
