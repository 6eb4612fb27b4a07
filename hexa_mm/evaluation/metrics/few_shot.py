"""Few-shot nearest-class-mean accuracy as a validation metric."""
from typing import List, Optional

from hexa_mm.registry import METRICS
from ..functional import few_shot_accuracy
from .knn import KNNAccuracy


@METRICS.register_module()
class FewShotAccuracy(KNNAccuracy):
    """Few-shot accuracy of the backbone features, as an online monitor.

    The validation data set is a :class:`hexa_mm.datasets.KNNDataset`, as
    for :class:`KNNAccuracy`: ``shots`` labelled images per class are drawn
    from the bank, their mean unit feature is the class prototype and each
    query takes the class of the nearest prototype; the accuracy is the mean
    over ``draws`` seeded draws (:func:`few_shot_accuracy`). Where labels are
    few is where a representation shows what it learnt.

    Args:
        shots (int): Labelled images per class. Defaults to 5.
        draws (int): Seeded draws averaged. Defaults to 20.
        seed (int): Seed of the first draw. Defaults to 0.
        collect_device (str): Where results are gathered. Defaults to 'cpu'.
        prefix (str, optional): Metric name prefix. Defaults to 'few_shot'.
    """

    default_prefix = 'few_shot'

    def __init__(self,
                 shots: int = 5,
                 draws: int = 20,
                 seed: int = 0,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if shots < 1 or draws < 1:
            raise ValueError(f'FewShotAccuracy: shots={shots} and '
                             f'draws={draws} must be >= 1.')
        self.shots = shots
        self.draws = draws
        self.seed = seed

    def compute_metrics(self, results: List[dict]) -> dict:
        """Few-shot accuracy of the queries with prototypes from the bank.

        Args:
            results (list[dict]): What :meth:`process` kept, all ranks.

        Returns:
            dict: ``{shots}-shot`` in percent.
        """
        bank, queries = self._split(results)
        return {
            f'{self.shots}-shot':
            few_shot_accuracy(
                bank,
                queries,
                shots=self.shots,
                draws=self.draws,
                seed=self.seed)
        }
