# DeepCluster-v2 on the embedded digits without multi-crop: the demo (about
# half an hour on 2 shared CPU cores). As the multi-crop digits config
# (ResNet-18, 3 x 30 prototypes, SGD lr 0.06 for a batch of 2 x 64, cosine,
# 30 epochs, kNN after every epoch) with only the 2 x 32 px crops.
_base_ = ['./deepclusterv2_resnet18_2xb64-mcrop-2-4-coslr-30e_digits.py']
train_pipeline = [
    dict(
        type='MultiView', num_views=2, transforms=[{{_base_.view_pipeline1}}]),
    dict(type='PackInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
