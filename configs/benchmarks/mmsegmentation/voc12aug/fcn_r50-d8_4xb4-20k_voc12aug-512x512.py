# FCN R50-D8 on VOC12aug, mmseg's protocol as mmselfsup 1.x benchmarks it:
# 4 GPUs x 4 images, 20k iterations, 512x512 crops, SyncBN, mIoU on VOC12 val.
_base_ = 'mmseg::fcn/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py'
model = dict(
    # mmseg copies a model-level `pretrained` into the backbone, which then
    # refuses to have an init_cfg too; the backbone's init_cfg loads instead
    pretrained=None,
    backbone=dict(
        # a plain ResNet-50 (no deep stem, unlike mmseg's ResNetV1c), so that
        # a MoCo-v2 / DeepCluster-v2 backbone (conv1, bn1, layer1-4) loads
        type='ResNet',
        # filled by tools/benchmarks/mmsegmentation/dist_train.sh; left empty,
        # init_weights fails rather than train from scratch
        init_cfg=dict(type='Pretrained', checkpoint='')))
