# DeepCluster-v2 without multi-crop (facebookresearch/swav
# deepclusterv2_400ep_2x224_pretrain: 70.2 linear top-1): ResNet-50, 3 x 3000
# prototypes, 2 x 224 px crops of scale (0.08, 1), 400 epochs; optimiser and
# schedule as the 800-epoch config (LARS, lr 0.6 for 8 x 64, 10 warm-up
# epochs, cosine to 1/1000).
_base_ = [
    '../_base_/models/deepclusterv2_resnet50.py',
    '../_base_/datasets/imagenet_deepclusterv2_2x224.py',
    '../_base_/schedules/lars_coslr-800e.py',
    '../_base_/default_runtime.py',
]
train_cfg = dict(max_epochs=400)
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3))
