# DeepCluster-v2 (arXiv 2006.09882, facebookresearch/swav): ResNet-50,
# projection Linear(2048, 2048)-BN-ReLU-Linear(2048, 128), L2-normalised;
# 3 prototype sets of 3000 k-means centroids (a buffer, never trained);
# temperature 0.1; crops 0 and 1 are clustered.
model = dict(
    type='DeepClusterV2',
    num_prototypes=[3000, 3000, 3000],
    feat_dim=128,
    temperature=0.1,
    assign_crops=[0, 1],
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='SyncBN'),
        zero_init_residual=False),
    neck=dict(
        type='NonLinearNeck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        num_layers=2,
        with_bias=True,
        with_last_bn=False,
        with_last_bias=True,
        with_avg_pool=True,
        norm_cfg=dict(type='SyncBN')),
    hard_examples=[])

# fills the memory bank before epoch 1, runs k-means at each epoch start
# (10 iterations), saves bank and assignments in the checkpoints
custom_hooks = [dict(type='DeepClusterHook', num_iters=10)]
