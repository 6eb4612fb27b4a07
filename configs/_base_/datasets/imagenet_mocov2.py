# ImageNet-1k, MoCo-v2 "aug+" views. Layout: data/imagenet/train/<class>/*.JPEG
_base_ = ['./view_transforms.py', './train_loader.py']
imagenet = dict(type='ImageNet', data_root='data/imagenet/', split='train')

view_pipeline = [
    _base_.random_resized_crop,
    _base_.color_jitter,
    _base_.grayscale,
    _base_.gaussian_blur,
    _base_.flip,
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(imagenet, pipeline=train_pipeline))
# No online kNN monitor on ImageNet (a 1.28M-image bank per check); use
# tools/benchmarks/classification/knn.py on a checkpoint instead.
