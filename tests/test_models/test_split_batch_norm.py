"""SplitBN against its definition: BatchNorm2d applied to each group."""
import copy

import pytest
import torch
from mmcv.cnn import build_norm_layer
from torch import nn

from hexa_mm import register_all_modules
from hexa_mm.models.utils import SplitBatchNorm2d, frozen_norm_stats
from hexa_mm.utils import ConfigError


def _pair(splits, momentum=0.1):
    torch.manual_seed(0)
    split = SplitBatchNorm2d(3, num_splits=splits, momentum=momentum)
    with torch.no_grad():
        split.weight.uniform_(0.5, 1.5)
        split.bias.uniform_(-1, 1)
    plain = nn.BatchNorm2d(3, momentum=momentum)
    plain.load_state_dict(split.state_dict())
    return split, plain


@pytest.mark.parametrize('momentum', [0.1, None])
def test_training_normalises_each_group_as_batch_norm_would(momentum):
    split, plain = _pair(4, momentum)
    x = torch.randn(8, 3, 5, 5) * 3 + 2
    for _ in range(2):  # the running statistics move twice
        out = split(x)
        groups = [copy.deepcopy(plain) for _ in range(4)]
        for g, norm in enumerate(groups):
            # sample i is in group i % 4 (MoCo's SplitBatchNorm)
            torch.testing.assert_close(out[g::4], norm(x[g::4]))
        for name in ('running_mean', 'running_var'):
            torch.testing.assert_close(
                getattr(split, name),
                torch.stack([getattr(n, name) for n in groups]).mean(0))
        plain = groups[0]
        plain.running_mean.copy_(split.running_mean)
        plain.running_var.copy_(split.running_var)
    assert int(split.num_batches_tracked) == 2
    # the groups differ, so one statistic over the batch would not do
    assert not torch.allclose(out, nn.BatchNorm2d(3).train()(x), atol=1e-3)


def test_eval_and_one_split_are_batch_norm():
    split, plain = _pair(1)
    x = torch.randn(6, 3, 4, 4)
    torch.testing.assert_close(split(x), plain(x))
    torch.testing.assert_close(split.running_var, plain.running_var)
    split, plain = _pair(2)
    split.train()(torch.randn(4, 3, 4, 4) + 5)
    plain.load_state_dict(split.state_dict())
    split.eval(), plain.eval()
    torch.testing.assert_close(split(x[:5]), plain(x[:5]))


def test_frozen_norm_stats_leaves_the_running_statistics():
    split, _ = _pair(2)
    before = copy.deepcopy(split.state_dict())
    with frozen_norm_stats(split):
        split(torch.randn(4, 3, 4, 4) + 3)
    for key, value in split.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_a_batch_that_does_not_split_and_bad_splits_are_refused():
    with pytest.raises(ValueError, match='batch of 6 does not split into 4'):
        SplitBatchNorm2d(3, num_splits=4)(torch.randn(6, 3, 2, 2))
    with pytest.raises(ConfigError, match='num_splits=0'):
        SplitBatchNorm2d(3, num_splits=0)


def test_config_builds_it_with_batch_norm_names_and_keys():
    register_all_modules()
    name, layer = build_norm_layer(dict(type='SplitBN', num_splits=2), 8, 1)
    assert name == 'bn1' and isinstance(layer, SplitBatchNorm2d)
    assert layer.num_splits == 2
    assert layer.state_dict().keys() == nn.BatchNorm2d(8).state_dict().keys()
