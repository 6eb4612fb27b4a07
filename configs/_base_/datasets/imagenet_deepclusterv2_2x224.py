# ImageNet-1k, DeepCluster-v2 views without multi-crop (facebookresearch/swav
# deepclusterv2_400ep_2x224): 2 x 224 px crops of scale (0.08, 1), colour
# distortion of strength 1, blur, flip. Layout: data/imagenet/train/<class>/
_base_ = ['./imagenet_mocov2.py']

view_pipeline = [
    dict(_base_.random_resized_crop, crop_ratio_range=(0.08, 1.)),
    # strength 1: twice MoCo-v2's jitter
    dict(
        _base_.color_jitter,
        transforms=[
            dict(
                type='ColorJitter',
                brightness=0.8,
                contrast=0.8,
                saturation=0.8,
                hue=0.2)
        ]),
    *_base_.view_pipeline[2:],
]
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
train_dataloader = dict(batch_size=64, dataset=dict(pipeline=train_pipeline))
