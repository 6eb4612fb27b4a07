# The kNN monitor (validation during pre-training): KNNDataset pairs a
# labelled bank (the train images) with the queries (a held-out split);
# KNNAccuracy scores each query by its k=200 nearest bank images, weighted
# by exp(similarity / 0.07). Bases set the bank and query data sets.
val_dataloader = dict(
    batch_size=256,
    num_workers=4,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='KNNDataset'))
val_evaluator = dict(type='KNNAccuracy', k=200, temperature=0.07)
val_cfg = dict()
