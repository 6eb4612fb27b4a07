"""The embedded digits, the checked real-data sets, the kNN data set."""
import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from hexa_mm import register_all_modules
from hexa_mm.registry import DATASETS
from hexa_mm.utils import ConfigError

register_all_modules()


def test_digits_split_is_fixed_stratified_and_disjoint() -> None:
    train = DATASETS.build(dict(type='Digits', split='train'))
    val = DATASETS.build(dict(type='Digits', split='val'))
    again = DATASETS.build(dict(type='Digits', split='val'))
    assert len(train) + len(val) == 1797
    assert len(val) == 360
    imgs = lambda ds: {ds.get_data_info(i)['img'].tobytes()  # noqa: E731
                       for i in range(len(ds))}
    assert not imgs(train) & imgs(val)
    assert [again.get_data_info(i)['gt_label'] for i in range(len(again))] \
        == [val.get_data_info(i)['gt_label'] for i in range(len(val))]
    counts = np.bincount(val.get_gt_labels(), minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37


def test_digits_images_are_the_real_digits_upsampled() -> None:
    ds = DATASETS.build(dict(type='Digits', split='train', img_size=32))
    info = ds.get_data_info(0)
    img = info['img']
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    assert (img[..., 0] == img[..., 2]).all()
    # downsampling back to 8x8 recovers one of scikit-learn's digits
    small = img[..., 0].reshape(8, 4, 8, 4).mean(axis=(1, 3)) * 16 / 255
    digits = load_digits()
    err = np.abs(digits.images - small[None]).mean(axis=(1, 2))
    assert err.min() < 1.0
    assert digits.target[err.argmin()] == info['gt_label']
    assert info['sample_idx'] == 0


def test_digits_sets_of_one_size_share_one_resize() -> None:
    # a run's train, bank and query sets: the digits resized once
    from hexa_mm.datasets.digits import _resized_digits
    _resized_digits.cache_clear()
    train = DATASETS.build(dict(type='Digits', split='train', img_size=12))
    val = DATASETS.build(dict(type='Digits', split='val', img_size=12))
    assert _resized_digits.cache_info().misses == 1
    assert len(train) + len(val) == len(load_digits().images)
    # each image an array of its own, which a transform may change
    img = train.get_data_info(0)['img']
    assert img.flags.writeable and img.shape == (12, 12, 3)


def test_digits_pipeline_keeps_sample_idx() -> None:
    ds = DATASETS.build(
        dict(type='Digits', split='val', pipeline=[dict(type='PackInputs')]))
    item = ds[5]
    assert item['inputs'].shape == (3, 32, 32)
    assert item['data_samples'].sample_idx == 5


def test_digits_test_split_is_seeded_stratified_and_disjoint() -> None:
    def build(split, seed=0):
        return DATASETS.build(
            dict(
                type='Digits',
                split=split,
                img_size=8,
                val_fraction=0.2,
                test_fraction=0.2,
                seed=seed))

    parts = {split: build(split) for split in ('train', 'val', 'test')}
    sizes = {split: len(ds) for split, ds in parts.items()}
    assert sum(sizes.values()) == 1797
    assert abs(sizes['val'] - 0.2 * 1797) <= 1
    assert abs(sizes['test'] - 0.2 * 1797) <= 1
    # the three splits hold every image once: compare the 8x8 pixels
    digits = load_digits()
    seen = []
    for split, ds in parts.items():
        for i in range(len(ds)):
            grey = ds.get_data_info(i)['img'][..., 0]
            seen.append(grey.tobytes())
        counts = np.bincount(ds.get_gt_labels(), minlength=10)
        share = np.bincount(digits.target, minlength=10) / 1797
        assert (np.abs(counts - share * len(ds)) <= 1.5).all(), split
    assert len(set(seen)) == len(set(
        (im * 255 / 16).round().astype(np.uint8).tobytes()
        for im in digits.images))
    # seeded: the same seed gives the same test images, another seed others
    labels = lambda ds: list(ds.get_gt_labels())  # noqa: E731
    assert labels(build('test')) == labels(parts['test'])
    other = build('test', seed=1)
    assert [other.get_data_info(i)['img'].tobytes() for i in range(20)] != \
        [parts['test'].get_data_info(i)['img'].tobytes() for i in range(20)]


def test_digits_without_test_fraction_keeps_the_two_way_split() -> None:
    # the split every existing config was measured on: scikit-learn's
    # stratified 80/20 split with the dataset's seed
    from sklearn.model_selection import train_test_split
    target = load_digits().target
    _, expected = train_test_split(
        np.arange(len(target)), test_size=0.2, random_state=0,
        stratify=target)
    val = DATASETS.build(dict(type='Digits', split='val', img_size=8))
    assert list(val.get_gt_labels()) == list(target[np.sort(expected)])
    three = DATASETS.build(
        dict(type='Digits', split='val', img_size=8, test_fraction=0.2))
    assert list(three.get_gt_labels()) != list(val.get_gt_labels())


@pytest.mark.parametrize('kwargs, match', [
    (dict(split='test'), 'test_fraction > 0'),
    (dict(split='eval'), "split='eval'"),
    (dict(test_fraction=0.8), 'test_fraction=0.8'),
])
def test_digits_bad_split(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DATASETS.build(dict(type='Digits', **kwargs))


@pytest.mark.parametrize('make', [lambda p: None, lambda p: p.mkdir()])
def test_imagenet_missing_or_empty_root(tmp_path: Path, make) -> None:
    root = tmp_path / 'imagenet'
    make(root)
    with pytest.raises(ConfigError) as err:
        DATASETS.build(dict(type='ImageNet', data_root=str(root),
                            split='train'))
    message = str(err.value)
    assert str(root / 'train') in message and '<class>' in message
    assert '\n' not in message


def test_imagenet_folder_layout_loads(tmp_path: Path) -> None:
    from PIL import Image
    for cls in ('n01', 'n02'):
        (tmp_path / 'train' / cls).mkdir(parents=True)
        Image.new('RGB', (8, 8)).save(tmp_path / 'train' / cls / 'a.JPEG')
    ds = DATASETS.build(
        dict(type='ImageNet', data_root=str(tmp_path), split='train',
             classes=['n01', 'n02']))
    assert len(ds) == 2


def write_cifar(root: Path, per_batch: int = 4) -> None:
    """Tiny CIFAR-10 in the real python-pickle layout."""
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']:
        with open(folder / name, 'wb') as f:
            pickle.dump({
                'data': rng.integers(0, 255, (per_batch, 3072),
                                     dtype=np.uint8),
                'labels': list(range(per_batch))
            }, f)
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': [f'c{i}' for i in range(10)]}, f)


def test_cifar10_layout_loads_and_missing_root_is_clear(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        DATASETS.build(dict(type='CIFAR10', data_root=str(tmp_path / 'no')))
    assert 'cifar-10-batches-py' in str(err.value)
    assert str(tmp_path / 'no') in str(err.value)
    write_cifar(tmp_path)
    train = DATASETS.build(dict(type='CIFAR10', data_root=str(tmp_path)))
    test = DATASETS.build(
        dict(type='CIFAR10', data_root=str(tmp_path), split='test'))
    assert len(train) == 20 and len(test) == 4
    assert train.get_data_info(0)['img'].shape == (32, 32, 3)


def test_knn_dataset_marks_bank_and_queries() -> None:
    pack = [dict(type='PackInputs')]
    ds = DATASETS.build(
        dict(
            type='KNNDataset',
            bank=dict(type='Digits', split='train', pipeline=pack,
                      indices=5),
            query=dict(type='Digits', split='val', pipeline=pack,
                       indices=3)))
    assert len(ds) == 8
    roles = [ds[i]['data_samples'].knn_bank for i in range(8)]
    assert roles == [True] * 5 + [False] * 3


def test_color_jitter_hue_works_on_numpy_2() -> None:
    from hexa_mm.datasets import adjust_hue
    img = np.zeros((4, 4, 3), np.uint8)
    img[..., 2] = 200  # red in BGR
    import mmcv
    # a positive shift: the same as mmcv's
    assert np.array_equal(adjust_hue(img, 0.25),
                          mmcv.adjust_hue(img, 0.25, backend='cv2'))
    # a negative shift (mmcv 2.1.0 fails here on numpy 2) undoes the
    # positive one: -63 wraps to +193 on the 256-step hue circle
    colourful = np.stack(np.meshgrid(np.arange(0, 256, 32),
                                     np.arange(0, 256, 32)), -1)
    colourful = np.concatenate([colourful, 255 - colourful[..., :1]],
                               -1).astype(np.uint8)
    there = adjust_hue(colourful, 0.25)
    assert np.abs(there.astype(int) - colourful).max() > 50
    back = adjust_hue(there, -0.25)
    assert np.abs(back.astype(int) - colourful).max() <= 16  # HSV rounding
    from hexa_mm.registry import TRANSFORMS
    jitter = TRANSFORMS.build(
        dict(type='ColorJitter', brightness=0.4, contrast=0.4,
             saturation=0.4, hue=0.5))
    for _ in range(20):
        out = jitter(dict(img=np.random.randint(0, 255, (8, 8, 3),
                                                 dtype=np.uint8)))
        assert out['img'].shape == (8, 8, 3)
