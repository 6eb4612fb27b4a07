"""Check the training setup against the algorithm before iteration 1."""
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from hexa_mm.registry import HOOKS


@HOOKS.register_module()
class TrainSetupCheckHook(Hook):
    """Ask the algorithm whether it can train with this batch and data set.

    Calls ``model.check_train_setup(global_batch_size, dataset_size)`` (see
    :meth:`hexa_mm.models.PseudoLabelAlgorithm.check_train_setup`) before the
    first iteration, so e.g. a MoCo queue that the global batch does not
    divide fails with a clear error instead of at the first enqueue.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:
        """Run the check.

        Args:
            runner (Runner): The runner.
        """
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        check = getattr(model, 'check_train_setup', None)
        if check is None:
            return
        loader = runner.train_dataloader
        check(loader.batch_size * get_world_size(), len(loader.dataset))
