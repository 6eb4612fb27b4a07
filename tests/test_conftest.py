"""How conftest.py groups the tests for ``--dist loadgroup``: the users of a
fixture instance held in memory in one group, nothing else grouped."""
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, Optional

import pytest
from _pytest.nodeid import NodeId

import conftest

HERE = Path(__file__).resolve()


def memory_fixture():
    """Stands for a fixture function of the suite (defined under tests/)."""


class Item:
    """The parts of a ``pytest.Item`` the hook reads and writes."""

    def __init__(self,
                 path: Path,
                 mark: Optional[str] = None,
                 **scopes: str) -> None:
        self.path = path
        self._fixtureinfo = SimpleNamespace(name2fixturedefs={
            name: [fixture(scope, name)]
            for name, scope in scopes.items()
        })
        self.marks = [] if mark is None else [pytest.mark.xdist_group(mark)]

    @property
    def nodeid(self) -> str:
        return str(self._id)

    def get_closest_marker(self, name: str):
        found = [m.mark for m in self.marks if m.mark.name == name]
        return found[-1] if found else None

    def add_marker(self, mark) -> None:
        self.marks.append(mark)

    def group(self) -> Optional[str]:
        mark = self.get_closest_marker('xdist_group')
        return None if mark is None else mark.args[0]


def fixture(scope: str, name: str) -> SimpleNamespace:
    """A fixture definition: the suite's, but ``outside*`` from pytest."""
    return SimpleNamespace(
        scope=scope,
        func=pytest.main if name.startswith('outside') else memory_fixture)


def groups(items: Dict[str, Item]) -> Dict[str, Optional[str]]:
    conftest.pytest_collection_modifyitems(None, list(items.values()))
    return {name: item.group() for name, item in items.items()}


def test_tests_linked_by_fixtures_in_memory_share_one_group() -> None:
    other = HERE.with_name('test_other.py')
    got = groups(
        dict(a=Item(HERE, trained='module'),
             b=Item(HERE, trained='module', model='session'),
             c=Item(other, model='session'),
             d=Item(other, trained='module'),
             e=Item(HERE, made='function'),
             f=Item(HERE)))
    # a-b through `trained` of this module, b-c through the session's model
    assert got['a'] == got['b'] == got['c'] is not None
    # another module's `trained` is another instance
    assert got['d'] is not None and got['d'] != got['a']
    assert got['e'] is None and got['f'] is None


def test_cheap_or_shared_on_disk_or_foreign_fixtures_group_nothing() -> None:
    got = groups(
        dict(a=Item(HERE, digits_run='session'),
             b=Item(HERE, digits_run='session', tiny_options='session'),
             c=Item(HERE, outside_cache='session'),
             d=Item(HERE, outside_cache='session')))
    assert set(got.values()) == {None}


def test_a_group_given_by_hand_is_kept() -> None:
    got = groups(
        dict(a=Item(HERE, 'by_hand', trained='module'),
             b=Item(HERE, trained='module')))
    assert got['a'] == 'by_hand'
    assert got['b'] not in (None, 'by_hand')


def test_the_group_reaches_the_id_xdist_schedules_by() -> None:
    item = Item(HERE)
    item._id = NodeId.parse('tests/test_x.py::test_y[a]')
    item._nodeid = 'tests/test_x.py::test_y[a]@g'  # what pytest-xdist sets
    alone = Item(HERE)
    alone._id = NodeId.parse('tests/test_x.py::test_z')
    conftest.XdistGroupIds().pytest_collection_modifyitems([item, alone])
    assert str(item._id) == 'tests/test_x.py::test_y[a]@g'
    assert str(alone._id) == 'tests/test_x.py::test_z'


def test_instances_made_in_the_block_are_forgotten(
        capsys: pytest.CaptureFixture) -> None:
    from mmengine.logging import MMLogger
    from mmengine.visualization import Visualizer
    kept = MMLogger.get_instance('test_conftest-before')
    with conftest.forget_new_instances():
        first = MMLogger.get_instance('test_conftest-same-second')
        Visualizer.get_instance('test_conftest-same-second')
        assert MMLogger.get_instance('test_conftest-same-second') is first
    assert not MMLogger.check_instance_created('test_conftest-same-second')
    assert not Visualizer.check_instance_created('test_conftest-same-second')
    assert MMLogger.get_instance('test_conftest-before') is kept
    # a run of the same name afterwards logs through a logger of its own
    second = MMLogger.get_instance('test_conftest-same-second')
    assert second is not first
    second.warning('fresh handlers')
    assert 'Logging error' not in capsys.readouterr().err
