"""Tests of CPUAmpOptimWrapper: mixed precision on the CPU (HexaRunner's
use of it: tests/test_engine/test_runner.py)."""
import pytest
import torch
from torch import nn

from hexa_mm.engine import CPUAmpOptimWrapper
from hexa_mm.utils import ConfigError


def test_forward_in_bfloat16_update_in_float32() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(16, 1))
    wrapper = CPUAmpOptimWrapper(
        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    before = [p.detach().clone() for p in model.parameters()]
    with wrapper.optim_context(model):
        out = model(torch.randn(2, 3, 4, 4))
    assert out.dtype == torch.bfloat16
    wrapper.update_params(out.float().square().mean())
    for old, new in zip(before, model.parameters()):
        assert new.dtype == torch.float32 and new.grad is None
        assert not torch.equal(old, new)
    # outside the context: float32 again
    assert model(torch.randn(2, 3, 4, 4)).dtype == torch.float32


def test_only_bfloat16_and_a_cuda_checkpoint_resumes() -> None:
    model = nn.Linear(2, 2)
    with pytest.raises(ConfigError, match='supports only bfloat16'):
        CPUAmpOptimWrapper(
            dtype='float16',
            optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    wrapper = CPUAmpOptimWrapper(
        dtype='bfloat16',
        loss_scale='dynamic',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.5))
    state = wrapper.state_dict()
    state['loss_scaler'] = dict(scale=65536.0)  # what AmpOptimWrapper saves
    state['param_groups'][0]['lr'] = 0.25
    wrapper.load_state_dict(state)
    assert wrapper.optimizer.param_groups[0]['lr'] == 0.25
