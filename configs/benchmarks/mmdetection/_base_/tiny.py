# What the tiny detection configs (the benchmarks at toy scale, on the data
# written by tools/dataset_converters/make_tiny_downstream_data.py) share:
# images about 12 times smaller, fewer proposals and RoIs, no data workers, a
# log line per iteration, no checkpoint. The benchmark config is the other
# base, so every name here starts with tiny_ (bases may not share a key).
# mmdet's (1333, 480-800) and (1333, 800), VOC's and COCO's alike
tiny_train_scales = [(107, 48), (107, 56), (107, 64)]
tiny_test_scale = (107, 64)
tiny_model = dict(
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=1000, max_per_img=64),
        rcnn=dict(sampler=dict(num=4))),
    # every class scores about 1 / (classes + 1) after 4 iterations: keep
    # the top 8 boxes, whatever their score, so that the metric sees
    # detections
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=8),
        rcnn=dict(score_thr=0.0, max_per_img=8)))
tiny_loader = dict(num_workers=0, persistent_workers=False)
# a smoke run: no checkpoint of a few hundred MB
tiny_hooks = dict(
    logger=dict(interval=1), checkpoint=dict(interval=-1, save_last=False))

# COCO: 1 epoch of 8 train images (4 iterations of 2), then val2017
tiny_coco_root = 'data/tiny_downstream/coco/'
tiny_coco_train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomChoiceResize', scales=tiny_train_scales, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
tiny_coco_test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=tiny_test_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
tiny_coco_train_dataloader = dict(
    tiny_loader,
    batch_size=2,
    dataset=dict(
        data_root=tiny_coco_root, indices=8,
        pipeline=tiny_coco_train_pipeline))
tiny_coco_val_dataloader = dict(
    tiny_loader,
    dataset=dict(data_root=tiny_coco_root, pipeline=tiny_coco_test_pipeline))
tiny_coco_val_evaluator = dict(ann_file=tiny_coco_root +
                               'annotations/instances_val2017.json')
