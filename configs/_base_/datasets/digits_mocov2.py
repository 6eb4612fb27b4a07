# scikit-learn's digits (embedded, no download) at 32 px, MoCo-v2-style views.
# Horizontal flip is left out: a mirrored digit is often another digit.
_base_ = ['./view_transforms.py', './train_loader.py', './knn_val_loader.py']
digits = dict(type='Digits')

view_pipeline = [
    dict(_base_.random_resized_crop, scale=32),
    _base_.color_jitter,
    _base_.grayscale,
]
train_pipeline = [
    dict(type='MultiView', num_views=2, transforms=[view_pipeline]),
    dict(type='PackInputs')
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(digits, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    # said explicitly: mmpretrain's tools/train.py defaults it to True
    persistent_workers=False,
    dataset=dict(
        bank=dict(digits, split='train', pipeline=test_pipeline),
        query=dict(digits, split='val', pipeline=test_pipeline)))
