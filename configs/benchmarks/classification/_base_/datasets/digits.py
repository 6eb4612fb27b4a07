# scikit-learn's digits (embedded in hexa_mm, no download) at 32 px, labeled,
# for the classification benchmarks: the digits pre-training's split and
# normalisation. The train view is a mild random resized crop; no flip (a
# mirrored digit is often another digit).
custom_imports = dict(imports=['hexa_mm.datasets'], allow_failed_imports=False)
dataset_type = 'hexa_mm.Digits'
data_preprocessor = dict(
    num_classes=10, mean=[78.85] * 3, std=[88.94] * 3, to_rgb=False)

train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.5, 1.),
        backend='pillow'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='PackInputs')]

train_dataloader = dict(
    batch_size=64,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=256,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, split='val', pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
