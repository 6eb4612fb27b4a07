# Mask R-CNN R50-C4 on COCO train2017 -> val2017, multi-scale 1x (12 epochs):
# the MoCo protocol (He et al. 2020, arXiv 1911.05722, Sec. 4.2: train short
# side 640-800, test 800, BN fine-tuned and synchronised, all layers tuned).
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50-caffe-c4_1x_coco.py'

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    # a pytorch-style RGB backbone, not mmdet's caffe default
    data_preprocessor=dict(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        # filled by tools/benchmarks/mmdetection/dist_train.sh (PRETRAIN);
        # the empty path fails to load rather than train from scratch
        init_cfg=dict(type='Pretrained', checkpoint='')),
    roi_head=dict(
        shared_head=dict(
            # MoCo's C4 head: a norm after res5 (detectron2's
            # Res5ROIHeadsExtraNorm), new and trained from scratch
            type='ResLayerExtraNorm',
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            # res5 of the same backbone file, filled by dist_train.sh too
            init_cfg=dict(type='Pretrained', checkpoint=''))))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args={{_base_.backend_args}}),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, 640), (1333, 672), (1333, 704), (1333, 736),
                (1333, 768), (1333, 800)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

# mmpretrain registers ResLayerExtraNorm into mmdet's registry
custom_imports = dict(
    imports=['mmpretrain.models.utils.res_layer_extra_norm'],
    allow_failed_imports=False)
