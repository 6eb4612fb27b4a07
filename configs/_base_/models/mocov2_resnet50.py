# MoCo-v2 (arXiv 2003.04297): ResNet-50, MLP 2048-2048-128, K=65536, T=0.2.
model = dict(
    type='MoCoV2',
    queue_len=65536,
    feat_dim=128,
    momentum=0.001,  # EMA momentum; the paper's m = 1 - 0.001 = 0.999
    temperature=0.2,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=50,
        norm_cfg=dict(type='BN'),
        zero_init_residual=False),
    neck=dict(
        type='MoCoV2Neck',
        in_channels=2048,
        hid_channels=2048,
        out_channels=128,
        with_avg_pool=True),
    hard_examples=[])
