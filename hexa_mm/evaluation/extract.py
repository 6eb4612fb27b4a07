"""Feature extraction over a data set, with progress."""
from typing import Tuple

import torch
from mmengine.utils import ProgressBar
from torch import nn


@torch.no_grad()
def extract_features(model: nn.Module,
                     loader,
                     pixels: bool = False,
                     progress: bool = True
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Features and labels of every image a data loader yields.

    Args:
        model (nn.Module): A hexa_mm algorithm (its ``data_preprocessor``
            normalises; its ``extract_embedding`` gives the features).
        loader (DataLoader): Yields packed samples with ``gt_label``.
        pixels (bool): Return the normalised pixels, flattened, instead of
            the model's features (the raw-pixel baseline). Defaults to False.
        progress (bool): Show a progress bar. Defaults to True.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: Features (N, D) and labels (N, ).
    """
    model.eval()
    bar = ProgressBar(len(loader.dataset)) if progress else None
    feats, labels = [], []
    for batch in loader:
        data = model.data_preprocessor(batch, False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        feats.append(inputs.flatten(1) if pixels else model.
                     extract_embedding(inputs))
        labels.extend(int(s.gt_label.flatten()[0])
                      for s in data['data_samples'])
        if bar is not None:
            bar.update(inputs.shape[0])
    if bar is not None:
        print()
    return torch.cat(feats).cpu(), torch.tensor(labels)
