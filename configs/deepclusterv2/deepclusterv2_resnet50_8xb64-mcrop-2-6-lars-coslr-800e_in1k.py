# DeepCluster-v2, the published recipe (facebookresearch/swav
# deepclusterv2_800ep_pretrain: 75.2 linear top-1): ResNet-50, 3 x 3000
# prototypes, multi-crop 2 x 224 + 6 x 96, 800 epochs of LARS at lr 0.6 for
# 8 x 64 (the reference's 4.8 for 4096 scaled linearly; the schedule's
# comment has the rest). The reference trains with 64 GPUs x 64 and apex
# mixed precision (--amp).
_base_ = [
    '../_base_/models/deepclusterv2_resnet50.py',
    '../_base_/datasets/imagenet_deepclusterv2_mcrop-2-6.py',
    '../_base_/schedules/lars_coslr-800e.py',
    '../_base_/default_runtime.py',
]
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
