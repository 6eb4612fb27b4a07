"""Ramp the hard-example losses in over the first epochs."""
from typing import Dict, Optional, Sequence

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from hexa_mm.registry import HOOKS
from hexa_mm.utils.errors import ConfigError

DATA_BATCH = Optional[Sequence[dict]]


@HOOKS.register_module()
class HardExampleWarmupHook(Hook):
    """Scale every hard-example generator's ``weight`` linearly from
    ``1 / warmup_iters`` to its configured value over the first ``epochs``
    epochs.

    A hard view is only hard once the clean task has been learnt: at
    initialisation every pseudo-label is at chance, and the extra losses
    (weight 1 each) triple the gradient of a task nothing solves yet. The
    scale at iteration ``i`` is ``min(1, (i + 1) / warmup_iters)``, a
    function of the runner's iteration alone, so a resumed run continues
    the same ramp. The scale is logged as ``hard_scale``.

    Args:
        epochs (float): Epochs of the ramp (> 0). Defaults to 10.

    Example:
        >>> custom_hooks = [dict(type='HardExampleWarmupHook', epochs=10)]
    """

    priority = 'NORMAL'

    def __init__(self, epochs: float = 10) -> None:
        if not epochs > 0:
            raise ConfigError(f'HardExampleWarmupHook: epochs={epochs} must '
                              'be > 0; remove the hook for no warm-up.')
        self.epochs = float(epochs)
        self._weights: Dict[int, float] = {}

    @staticmethod
    def _generators(runner) -> list:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        return list(getattr(model, 'hard_examples', None) or [])

    def before_train(self, runner) -> None:
        """Keep each generator's configured weight.

        Args:
            runner (Runner): The runner.

        Raises:
            ConfigError: If the model has no hard-example generators.
        """
        generators = self._generators(runner)
        if not generators:
            raise ConfigError(
                'HardExampleWarmupHook: the model has no hard_examples to '
                'warm up; remove the hook from custom_hooks.')
        self._weights = {id(g): g.weight for g in generators}

    def scale(self, runner) -> float:
        """The factor of the configured weights at the current iteration.

        Args:
            runner (Runner): The runner (its iteration and train loader).

        Returns:
            float: ``min(1, (iter + 1) / warmup_iters)``.
        """
        iters_per_epoch = len(runner.train_dataloader)
        warmup_iters = max(1, round(self.epochs * iters_per_epoch))
        return min(1.0, (runner.iter + 1) / warmup_iters)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: DATA_BATCH = None) -> None:
        """Set each generator's weight for this iteration.

        Args:
            runner (Runner): The runner.
            batch_idx (int): Unused.
            data_batch (Sequence[dict], optional): Unused.
        """
        scale = self.scale(runner)
        for generator in self._generators(runner):
            generator.weight = self._weights[id(generator)] * scale
        runner.message_hub.update_scalar('train/hard_scale', scale)

    def after_train(self, runner) -> None:
        """Give the generators back their configured weights.

        Args:
            runner (Runner): The runner.
        """
        for generator in self._generators(runner):
            generator.weight = self._weights.get(id(generator),
                                                 generator.weight)
