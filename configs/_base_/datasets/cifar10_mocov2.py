# CIFAR-10 (python-pickle files), MoCo-v2 views at 32 px, kNN monitor.
# Layout: data/cifar10/cifar-10-batches-py/{data_batch_1..5,test_batch,...}
_base_ = ['./view_transforms.py', './train_loader.py', './knn_val_loader.py']
cifar10 = dict(type='CIFAR10', data_root='data/cifar10/')

view_pipeline = [
    dict(_base_.random_resized_crop, scale=32),
    _base_.color_jitter,
    _base_.grayscale,
    _base_.flip,
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    num_workers=4,
    dataset=dict(cifar10, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        bank=dict(cifar10, split='train', pipeline=test_pipeline),
        query=dict(cifar10, split='test', pipeline=test_pipeline)))
