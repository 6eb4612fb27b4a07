"""tools/dataset_converters/make_subset.py on a small ImageNet-style folder."""
import runpy
import sys
from collections import Counter
from pathlib import Path
from typing import List, Tuple

import pytest
from mmpretrain.datasets import CustomDataset

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / 'tools/dataset_converters/make_subset.py'
# class folders (listed out of order on purpose) and their image counts
SIZES = {'n03': 12, 'n01': 10, 'n02': 15, 'n04': 11}


def run_tool(monkeypatch, capsys, *args: str) -> Tuple[int, str, str]:
    """Run the CLI in-process; return its exit status, stdout and stderr."""
    monkeypatch.setattr(sys, 'argv', [str(TOOL), *map(str, args)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TOOL), run_name='__main__')
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


def read(path: Path) -> List[Tuple[str, int]]:
    """The ``(CLASS/IMAGE, label)`` lines of an annotation file."""
    lines = [line.rsplit(' ', 1) for line in path.read_text().splitlines()]
    return [(name, int(label)) for name, label in lines]


@pytest.fixture
def train(tmp_path: Path) -> Path:
    """``train/CLASS/CLASS_i.JPEG`` (empty files) and one non-image."""
    root = tmp_path / 'train'
    for name, size in SIZES.items():
        (root / name).mkdir(parents=True)
        for i in range(size):
            (root / name / f'{name}_{i}.JPEG').touch()
    (root / 'n01' / 'readme.txt').touch()
    return root


def test_fraction_is_class_balanced(train, tmp_path, monkeypatch,
                                    capsys) -> None:
    out = tmp_path / 'meta' / 'train_20pct.txt'
    code, stdout, _ = run_tool(monkeypatch, capsys, train, out, '--fraction',
                               0.2, '--seed', 3)
    assert code == 0, stdout
    subset = read(out)
    assert len(subset) == round(0.2 * sum(SIZES.values()))  # 10
    per_class = Counter(label for _, label in subset)
    assert sorted(per_class.values()) == [2, 2, 3, 3]
    assert len(set(subset)) == len(subset)
    for name, label in subset:  # labels follow the sorted class folders
        folder = name.split('/')[0]
        assert label == sorted(SIZES).index(folder)
        assert (train / name).is_file() and name.endswith('.JPEG')
    assert '10 of 48 images' in stdout and '2-3 per class' in stdout


def test_seeded(train, tmp_path, monkeypatch, capsys) -> None:
    runs = {}
    for name, seed in (('a', 0), ('b', 0), ('c', 1)):
        out = tmp_path / f'{name}.txt'
        code, _, _ = run_tool(monkeypatch, capsys, train, out, '--per-class',
                              4, '--seed', seed)
        assert code == 0
        runs[name] = out.read_text()
    assert runs['a'] == runs['b']
    assert runs['a'] != runs['c']
    labels = Counter(label for _, label in read(tmp_path / 'c.txt'))
    assert labels == {0: 4, 1: 4, 2: 4, 3: 4}


def test_labels_match_mmpretrain(train, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / 'sub.txt'
    run_tool(monkeypatch, capsys, train, out, '--per-class', 2)
    listed = CustomDataset(
        data_root=str(tmp_path), ann_file='sub.txt', data_prefix='train')
    scanned = CustomDataset(data_root=str(tmp_path), data_prefix='train')
    label_of = {
        info['img_path']: info['gt_label']
        for info in scanned.load_data_list()
    }
    assert len(listed) == 8
    for info in listed.load_data_list():
        assert label_of[info['img_path']] == info['gt_label']


def test_from_list(train, tmp_path, monkeypatch, capsys) -> None:
    published = tmp_path / '1percent.txt'
    published.write_text('n02_3.JPEG\nn01_0.JPEG\n\nn04/n04_7.JPEG\n')
    out = tmp_path / 'sub.txt'
    code, _, _ = run_tool(monkeypatch, capsys, train, out, '--from-list',
                          published)
    assert code == 0
    assert read(out) == [('n02/n02_3.JPEG', 1), ('n01/n01_0.JPEG', 0),
                         ('n04/n04_7.JPEG', 3)]


@pytest.mark.parametrize('line,why', [('n09_1.JPEG', 'class folder n09'),
                                      ('n01_99.JPEG', 'no image n01/n01_99')])
def test_from_list_refuses_unknown_images(train, tmp_path, monkeypatch, capsys,
                                          line, why) -> None:
    published = tmp_path / 'list.txt'
    published.write_text(f'n01_0.JPEG\n{line}\n')
    out = tmp_path / 'sub.txt'
    code, _, err = run_tool(monkeypatch, capsys, train, out, '--from-list',
                            published)
    assert code == 2
    assert err.startswith('error: ') and err.count('\n') == 1
    assert why in err and 'list.txt:2' in err
    assert not out.exists()


@pytest.mark.parametrize('args,why',
                         [(['--fraction', 0.05], 'fewer than one per class'),
                          (['--per-class', 11], 'class n01 has 10 images'),
                          (['--fraction', 1.5], 'must be in (0, 1]')])
def test_refuses_impossible_subsets(train, tmp_path, monkeypatch, capsys, args,
                                    why) -> None:
    out = tmp_path / 'sub.txt'
    code, _, err = run_tool(monkeypatch, capsys, train, out, *args)
    assert code == 2 and why in err
    assert not out.exists()


def test_existing_out_needs_force(train, tmp_path, monkeypatch,
                                  capsys) -> None:
    out = tmp_path / 'sub.txt'
    out.write_text('keep me\n')
    code, _, err = run_tool(monkeypatch, capsys, train, out, '--per-class', 1)
    assert code == 2 and '--force' in err
    assert out.read_text() == 'keep me\n'
    code, _, _ = run_tool(monkeypatch, capsys, train, out, '--per-class', 1,
                          '--force')
    assert code == 0 and len(read(out)) == 4


def test_bad_root(tmp_path, monkeypatch, capsys) -> None:
    code, _, err = run_tool(monkeypatch, capsys, tmp_path / 'nope',
                            tmp_path / 'sub.txt', '--per-class', 1)
    assert code == 2 and 'nope' in err
