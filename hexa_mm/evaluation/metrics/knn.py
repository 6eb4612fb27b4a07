"""Weighted kNN accuracy as a validation metric."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric

from hexa_mm.registry import METRICS
from ..functional import LABELLED, knn_accuracy


@METRICS.register_module()
class KNNAccuracy(BaseMetric):
    """kNN top-1 of the backbone features, as an online monitor.

    The validation data set is a :class:`hexa_mm.datasets.KNNDataset`: one
    pass collects the features of the labelled bank (train images) and of
    the queries (val images); the queries are classified by weighted kNN
    over the bank (cosine similarity, votes ``exp(s / temperature)``).

    Args:
        k (int): Neighbours. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        num_classes (int, optional): Defaults to the largest label + 1.
        collect_device (str): Where results are gathered. Defaults to 'cpu'.
        prefix (str): Metric name prefix. Defaults to 'knn'.
    """

    default_prefix = 'knn'

    def __init__(self,
                 k: int = 200,
                 temperature: float = 0.07,
                 num_classes: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.k = k
        self.temperature = temperature
        self.num_classes = num_classes

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each sample's feature, label and role.

        Args:
            data_batch: The batch (unused).
            data_samples (Sequence[dict]): Model outputs with ``feature``,
                ``gt_label`` and ``knn_bank``.
        """
        for sample in data_samples:
            if 'knn_bank' not in sample:
                raise KeyError('KNNAccuracy needs a KNNDataset as the '
                               'validation data set (bank + queries).')
            self.results.append(
                dict(
                    feature=sample['feature'].detach().cpu(),
                    label=int(sample['gt_label'].flatten()[0]),
                    bank=bool(sample['knn_bank'])))

    @staticmethod
    def _split(results: List[dict]) -> Tuple[LABELLED, LABELLED]:
        """The labelled bank and the queries of what :meth:`process` kept.

        Args:
            results (list[dict]): What :meth:`process` kept, all ranks.

        Returns:
            tuple: The bank and the queries, each features (N, D) and class
            indices (N, ).
        """
        parts = []
        for in_bank in (True, False):
            part = [r for r in results if r['bank'] == in_bank]
            parts.append((torch.stack([r['feature'] for r in part]),
                          torch.tensor([r['label'] for r in part])))
        return parts[0], parts[1]

    def compute_metrics(self, results: List[dict]) -> dict:
        """kNN top-1 of the queries against the bank.

        Args:
            results (list[dict]): What :meth:`process` kept, all ranks.

        Returns:
            dict: ``top1`` in percent.
        """
        bank, queries = self._split(results)
        return dict(
            top1=knn_accuracy(
                bank,
                queries,
                k=self.k,
                temperature=self.temperature,
                num_classes=self.num_classes))
