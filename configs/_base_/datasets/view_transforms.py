# The transforms pre-training views are made of, MoCo-v2's "aug+" strengths
# (arXiv 2003.04297): a random resized crop, colour jitter (p=0.8),
# grey-scale (p=0.2), Gaussian blur (p=0.5), horizontal flip (p=0.5). The
# data set bases pick and adjust them, e.g.
# dict(_base_.random_resized_crop, scale=32).
random_resized_crop = dict(
    type='RandomResizedCrop',
    scale=224,
    crop_ratio_range=(0.2, 1.),
    backend='pillow')
color_jitter = dict(
    type='RandomApply',
    transforms=[
        dict(
            type='ColorJitter',
            brightness=0.4,
            contrast=0.4,
            saturation=0.4,
            hue=0.1)
    ],
    prob=0.8)
grayscale = dict(
    type='RandomGrayscale',
    prob=0.2,
    keep_channels=True,
    channel_weights=(0.114, 0.587, 0.2989))
gaussian_blur = dict(
    type='GaussianBlur',
    magnitude_range=(0.1, 2.0),
    magnitude_std='inf',
    prob=0.5)
flip = dict(type='RandomFlip', prob=0.5)
