# Faster R-CNN R50-C4 fine-tuned on VOC07+12 trainval, tested on VOC07 test:
# the MoCo protocol (He et al. 2020, arXiv 1911.05722; facebookresearch/moco
# detection/configs/pascal_voc_R_50_C4_24k_moco.yaml), on top of mmdet's
# multi-scale VOC07+12 C4 config (train short side 480-800 step 32, test 800,
# 8 GPUs x 2 images, SGD lr 0.02).
_base_ = 'mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py'

# BN is fine-tuned, synchronised across GPUs, in the backbone and res5 head.
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

# VOCDataset records VOC2007 / VOC2012 in its metainfo: ignore it, so the
# concatenation keeps one metainfo (as mmdet's voc0712 base does)
train_dataloader = dict(dataset=dict(ignore_keys=['dataset_type']))

# 24k iterations, 100 warm-up iterations, lr x0.1 at 18k and 22k
max_iters = 24000
train_cfg = dict(max_iters=max_iters, val_interval=2000)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=100),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_iters,
        by_epoch=False,
        milestones=[18000, 22000],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(by_epoch=False, interval=2000))

# AP50, AP75 and mAP = AP averaged over IoU 0.50:0.05:0.95 (MoCo's "AP"),
# with the VOC07 11-point interpolation, as detectron2 computes on VOC07 test
val_evaluator = dict(
    iou_thrs=[0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95])
test_evaluator = val_evaluator

# mmpretrain registers ResLayerExtraNorm into mmdet's registry
custom_imports = dict(
    imports=['mmpretrain.models.utils.res_layer_extra_norm'],
    allow_failed_imports=False)
