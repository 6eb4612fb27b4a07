"""HardExampleWarmupHook: the linear ramp of the hard-example weights."""
from types import SimpleNamespace

import pytest
from mmengine.logging import MessageHub

from hexa_mm.engine.hooks import HardExampleWarmupHook
from hexa_mm.utils.errors import ConfigError


def fake_runner(weights, iters_per_epoch: int = 4) -> SimpleNamespace:
    """A runner holding generators of the given weights."""
    model = SimpleNamespace(
        hard_examples=[SimpleNamespace(weight=w) for w in weights])
    return SimpleNamespace(
        model=model,
        iter=0,
        train_dataloader=[None] * iters_per_epoch,
        message_hub=MessageHub.get_instance('test_hard_example_warmup'))


def test_ramp_scales_each_weight_then_restores() -> None:
    runner = fake_runner([1.0, 0.5])
    hook = HardExampleWarmupHook(epochs=2)  # 8 iterations of ramp
    hook.before_train(runner)
    seen = []
    for it in range(12):
        runner.iter = it
        hook.before_train_iter(runner, it)
        seen.append([g.weight for g in runner.model.hard_examples])
    # linear from 1/8 of each weight, reaching it at the 8th iteration
    assert seen[0] == [1 / 8, 0.5 / 8]
    assert seen[3] == [0.5, 0.25]
    assert all(w == [1.0, 0.5] for w in seen[7:])
    firsts = [w[0] for w in seen[:8]]
    assert firsts == sorted(firsts) and len(set(firsts)) == 8
    assert runner.message_hub.get_scalar('train/hard_scale').current() == 1
    hook.after_train(runner)
    assert [g.weight for g in runner.model.hard_examples] == [1.0, 0.5]


def test_scale_depends_on_the_iteration_alone() -> None:
    """A resumed run (a new hook at iteration 5) continues the ramp."""
    first, resumed = fake_runner([2.0]), fake_runner([2.0])
    hook = HardExampleWarmupHook(epochs=3)
    hook.before_train(first)
    for it in range(6):
        first.iter = it
        hook.before_train_iter(first, it)
    again = HardExampleWarmupHook(epochs=3)
    again.before_train(resumed)
    resumed.iter = 5
    again.before_train_iter(resumed, 5)
    assert (resumed.model.hard_examples[0].weight ==
            first.model.hard_examples[0].weight == 2.0 * 6 / 12)


def test_bad_settings_are_one_clear_error() -> None:
    with pytest.raises(ConfigError, match='epochs=0'):
        HardExampleWarmupHook(epochs=0)
    with pytest.raises(ConfigError, match='no hard_examples'):
        HardExampleWarmupHook().before_train(fake_runner([]))


def test_built_from_a_config_entry() -> None:
    from mmengine.registry import HOOKS as ROOT_HOOKS
    hook = ROOT_HOOKS.build(
        dict(type='hexa_mm.HardExampleWarmupHook', epochs=5))
    assert isinstance(hook, HardExampleWarmupHook) and hook.epochs == 5
