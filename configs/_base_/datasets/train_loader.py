# The pre-training loader every data set base shares: shuffled, the last
# partial batch dropped (every step sees a whole global batch), mmengine's
# default_collate (a list of views per sample). Bases set the data set, the
# batch size and the workers.
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'))
