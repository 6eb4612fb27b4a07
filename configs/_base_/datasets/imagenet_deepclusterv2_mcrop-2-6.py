# ImageNet-1k, DeepCluster-v2 multi-crop views (facebookresearch/swav):
# 2 x 224 px crops of scale (0.14, 1) (clustered) + 6 x 96 px crops of scale
# (0.05, 0.14) (predicted only); colour distortion of strength 1, blur, flip.
# Layout: data/imagenet/train/<class>/*.JPEG
_base_ = ['./imagenet_deepclusterv2_2x224.py']

num_crops = [2, 6]
view_pipeline1 = [
    dict(_base_.view_pipeline[0], crop_ratio_range=(0.14, 1.)),
    *_base_.view_pipeline[1:],
]
view_pipeline2 = [
    dict(_base_.view_pipeline[0], scale=96, crop_ratio_range=(0.05, 0.14)),
    *_base_.view_pipeline[1:],
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='MultiView',
        num_views=num_crops,
        transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
