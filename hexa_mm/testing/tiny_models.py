"""Tiny models and inputs the tests share."""
from typing import List, Sequence

import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample
from torch import nn

from hexa_mm.registry import MODELS

#: Clusters of each prototype set of :func:`tiny_deepcluster`.
PROTOTYPES = (5, 3, 4)
#: Embedding size of :func:`tiny_deepcluster`.
FEAT_DIM = 8
#: Normalisation of the 32 px digits (``configs/_base_/datasets/digits*``).
DIGITS_MEAN, DIGITS_STD = 78.85, 88.94
#: The digits configs' ResNet-18 at a quarter of the width (16 channels out
#: of the stem, 128 into the neck), as config keys: for short runs that test
#: tools, launchers and checkpoints, not a width (the test suite's, the GPU
#: check's dry run).
NARROW_RESNET18 = {
    'model.backbone.base_channels': 16,
    'model.backbone.stem_channels': 16,
    'model.neck.in_channels': 128,
    'model.neck.hid_channels': 128,
}


def cfg_options(options: dict) -> List[str]:
    """Config keys and values as ``--cfg-options`` arguments.

    Args:
        options (dict): Values by dotted config key.

    Returns:
        list[str]: ``key=value`` strings.
    """
    return [f'{key}={value}' for key, value in options.items()]


def deepcluster_cfg(**overrides) -> dict:
    """A DeepClusterV2 config: a ResNet-18, a Linear-BN-ReLU-Linear neck to
    :data:`FEAT_DIM`, :data:`PROTOTYPES`, temperature 0.1, the digits'
    normalisation.

    Args:
        **overrides: Keys that replace the config's.

    Returns:
        dict: The config.
    """
    return dict(
        dict(
            type='DeepClusterV2',
            num_prototypes=PROTOTYPES,
            feat_dim=FEAT_DIM,
            temperature=0.1,
            data_preprocessor=dict(
                type='SelfSupDataPreprocessor',
                mean=[DIGITS_MEAN] * 3,
                std=[DIGITS_STD] * 3),
            backbone=dict(type='ResNet', depth=18),
            neck=dict(
                type='NonLinearNeck',
                in_channels=512,
                hid_channels=16,
                out_channels=FEAT_DIM,
                with_bias=True,
                with_last_bn=False,
                with_last_bias=True,
                norm_cfg=dict(type='BN1d'))), **overrides)


def tiny_deepcluster(num_samples: int = 10,
                     hard_examples: Sequence[dict] = (),
                     **overrides) -> nn.Module:
    """A DeepClusterV2 (:func:`deepcluster_cfg`, seed 0) with random unit
    prototypes, random clusters of ``num_samples`` samples (seed 1) and an
    empty memory bank.

    Args:
        num_samples (int): Size of the data set. Defaults to 10.
        hard_examples (Sequence[dict]): Generator configs. Defaults to none.
        **overrides: Config keys, see :func:`deepcluster_cfg`.

    Returns:
        nn.Module: The model.
    """
    torch.manual_seed(0)
    model = MODELS.build(
        deepcluster_cfg(hard_examples=list(hard_examples), **overrides))
    gen = torch.Generator().manual_seed(1)
    sets = model.num_prototypes
    model.init_memory_bank(num_samples)
    model.set_clusters([
        F.normalize(torch.randn(k, model.feat_dim, generator=gen), dim=1)
        for k in sets
    ],
                       torch.stack([
                           torch.randint(k, (num_samples, ), generator=gen)
                           for k in sets
                       ]))
    return model


def samples(ids: Sequence[int]) -> List[DataSample]:
    """Data samples that carry ``sample_idx``.

    Args:
        ids (Sequence[int]): The sample ids.

    Returns:
        list[DataSample]: One per id.
    """
    return [DataSample(metainfo=dict(sample_idx=int(i))) for i in ids]
