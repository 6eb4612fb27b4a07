"""A labelled bank and labelled queries in one data set, for kNN."""
from typing import Union

from mmengine.dataset import BaseDataset

from hexa_mm.registry import DATASETS


@DATASETS.register_module()
class KNNDataset:
    """The bank (e.g. train images) followed by the queries (e.g. val images).

    Each packed sample gets ``knn_bank`` in its metainfo, True for the bank,
    so that :class:`hexa_mm.evaluation.KNNAccuracy` can split the features
    one validation pass collects.

    Args:
        bank (dict or Dataset): The labelled images the kNN votes from,
            with a deterministic test pipeline.
        query (dict or Dataset): The labelled images to classify.
    """

    def __init__(self, bank: Union[dict, BaseDataset],
                 query: Union[dict, BaseDataset]) -> None:
        self.bank = DATASETS.build(bank) if isinstance(bank, dict) else bank
        self.query = DATASETS.build(query) if isinstance(query,
                                                         dict) else query
        self.metainfo = self.query.metainfo

    def __len__(self) -> int:
        return len(self.bank) + len(self.query)

    def __getitem__(self, idx: int) -> dict:
        in_bank = idx < len(self.bank)
        item = self.bank[idx] if in_bank else self.query[idx - len(self.bank)]
        item['data_samples'].set_metainfo(dict(knn_bank=in_bank))
        return item
