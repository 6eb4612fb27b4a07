# Semi-supervised ImageNet-1k with 10% of the labels: the 1% recipe with
# weight decay 1e-4 (mmselfsup's imagenet_10percent configs); lr 0.01 and
# head x100 were MoCo-v2's best grid point at 10% too (OpenSelfSup model
# zoo). Labeled images: data/imagenet/meta/train_10percent.txt, written by
# tools/dataset_converters/make_subset.py (--fraction 0.1, or --from-list
# with SimCLR's 10percent.txt).
_base_ = [
    '../imagenet_1percent/resnet50_head100_4xb64-steplr1e-2-20e_in1k-1pct.py'
]
train_dataloader = dict(dataset=dict(ann_file='meta/train_10percent.txt'))
optim_wrapper = dict(optimizer=dict(weight_decay=1e-4))
