"""A data set whose samples that cannot be loaded are named on one line."""
from torch.utils.data import Dataset

from hexa_mm.utils.errors import DataError

__all__ = ['NamedSamples']


class NamedSamples(Dataset):
    """Wrap a data set so that a sample that fails to load (a corrupt or
    empty image, a missing file) raises a one-line
    :class:`~hexa_mm.utils.errors.DataError` naming the sample and its file,
    in the main process or in a data loader worker.

    Used by every pass over the training data: the train loop
    (:class:`~hexa_mm.engine.ResumableEpochBasedTrainLoop`) and
    DeepCluster-v2's fill pass (:class:`~hexa_mm.engine.DeepClusterHook`).

    Args:
        dataset (Dataset): The data set.
    """

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> dict:
        """Load sample ``index``.

        Args:
            index (int): The sample's index.

        Returns:
            dict: The sample.

        Raises:
            DataError: Naming the sample (and its file, when the data set
                knows it) if it cannot be loaded.
        """
        try:
            return self.dataset[index]
        except Exception as err:  # any failure to load is about this sample
            reason = str(err).strip().splitlines()
            raise DataError(
                f'cannot load training sample {index}{self._file(index)}: '
                f'{type(err).__name__}: {reason[0] if reason else ""}: '
                'replace the file or remove it from the data set') from err

    def _file(self, index: int) -> str:
        """The file of a sample, for messages.

        Args:
            index (int): The sample's index.

        Returns:
            str: ``' (path)'``, or ``''`` if the data set does not say.
        """
        get_data_info = getattr(self.dataset, 'get_data_info', None)
        if get_data_info is None:
            return ''
        try:
            info = get_data_info(index)
        except Exception:  # a message, not worth a second failure
            return ''
        path = info.get('img_path') if isinstance(info, dict) else None
        return f' ({path})' if path else ''
