# DeepCluster-v2 on the embedded digits at 16 px, trained longer: the
# 40-epoch small-image recipe
# (deepclusterv2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py) for 156
# epochs, the cosine over all of them: the length that gives it
# HEXA_DCluster's time at 40 epochs, and the one at which its kNN clears raw
# pixels (configs/deepclusterv2/README.md).
_base_ = './deepclusterv2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py'
max_epochs = 156
param_scheduler = [
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs,
        by_epoch=True,
        begin=0,
        end=max_epochs)
]
train_cfg = dict(max_epochs=max_epochs)
default_hooks = dict(checkpoint=dict(interval=max_epochs))
