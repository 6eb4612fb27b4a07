"""Fixtures shared by the test suite."""
from typing import Dict

import pytest

from hexa_mm.datasets.tiny_downstream import make_tiny_downstream_data


@pytest.fixture(scope='session')
def tiny_downstream_data(
        tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """The tiny VOC / COCO / Cityscapes sets, written once per session.

    Returns:
        dict[str, str]: ``'voc'`` (the ``VOCdevkit`` folder), ``'coco'`` and
        ``'cityscapes'`` roots; see
        :func:`hexa_mm.datasets.tiny_downstream.make_tiny_downstream_data`.
    """
    return make_tiny_downstream_data(str(
        tmp_path_factory.mktemp('tiny_downstream')),
                                     seed=0)
