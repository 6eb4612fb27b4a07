"""measure_representation: the bank/query split of a KNNDataset loader."""
import torch
from mmengine.runner import Runner

from hexa_mm import register_all_modules
from hexa_mm.evaluation import (extract_features, few_shot_accuracy,
                                knn_accuracy, measure_representation)
from hexa_mm.registry import MODELS


def test_measure_splits_bank_and_queries_like_the_functions() -> None:
    register_all_modules()
    digits = dict(type='Digits', img_size=8, val_fraction=0.2,
                  test_fraction=0.2, seed=0, pipeline=[dict(type='PackInputs')])
    loader = Runner.build_dataloader(
        dict(
            batch_size=128,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'),
            dataset=dict(
                type='KNNDataset',
                bank=dict(digits, split='train', indices=200),
                query=dict(digits, split='val'))))
    torch.manual_seed(0)
    model = MODELS.build(
        dict(
            type='MoCoV2',
            queue_len=16,
            feat_dim=8,
            data_preprocessor=dict(
                type='SelfSupDataPreprocessor', mean=[0.] * 3,
                std=[16.] * 3),
            backbone=dict(type='ResNet_CIFAR', depth=18, base_channels=4,
                          stem_channels=4),
            neck=dict(type='MoCoV2Neck', in_channels=32, hid_channels=8,
                      out_channels=8, with_avg_pool=True)))
    got = measure_representation(model, loader, pixels=True,
                                 knn=dict(k=5), shots=2, draws=3, seed=4)
    feats, labels = extract_features(model, loader, pixels=True,
                                     progress=False)
    bank, queries = (feats[:200], labels[:200]), (feats[200:], labels[200:])
    assert got['knn'] == knn_accuracy(bank, queries, k=5)
    assert got['few_shot'] == few_shot_accuracy(
        bank, queries, shots=2, draws=3, seed=4)
    # raw pixels of digits are far above chance (10 %) with 200 labels
    assert got['knn'] > 80
    # the network's features differ from the pixels'
    assert measure_representation(model, loader, knn=dict(k=5)) != got
