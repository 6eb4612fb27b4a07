# The COCO R50-FPN benchmark at toy scale, to run here on the data written by
# tools/dataset_converters/make_tiny_downstream_data.py data/tiny_downstream
# Same model (SyncBN: runs as BN on a CPU), dataset class
# (CocoDataset, train2017 -> val2017) and CocoMetric (bbox, segm); images
# about 12 times smaller, fewer proposals and RoIs, 1 epoch of 8 images (4
# iterations of 2), then val2017.
_base_ = ['../coco/mask-rcnn_r50_fpn_ms-1x_coco.py', '../_base_/tiny.py']

model = _base_.tiny_model
train_pipeline = _base_.tiny_coco_train_pipeline
test_pipeline = _base_.tiny_coco_test_pipeline
train_dataloader = _base_.tiny_coco_train_dataloader
val_dataloader = _base_.tiny_coco_val_dataloader
test_dataloader = val_dataloader
val_evaluator = _base_.tiny_coco_val_evaluator
test_evaluator = val_evaluator

train_cfg = dict(max_epochs=1)
default_hooks = _base_.tiny_hooks
