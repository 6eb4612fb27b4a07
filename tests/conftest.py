"""Fixtures shared by the test suite, and how it runs under pytest-xdist
(``make test``: ``-n 2 --dist loadgroup``).

Each xdist worker is a process of its own, with its own session and module
fixtures. So that no training is made twice:

* a session fixture whose value is files (:func:`digits_run`, the tiny
  downstream sets, a backbone file) is made once for the whole run, by the
  first worker to need it, under a file lock (:func:`once_per_run`); the
  other worker waits for it and reads its value;
* a module- or session-scoped fixture of the suite whose value lives in
  memory (a trained runner, a model) cannot cross processes: the tests that
  use it are put into one xdist group, run by one worker
  (:func:`pytest_collection_modifyitems`); a test marked
  ``xdist_group`` by hand keeps its mark.

Each worker computes with one torch thread (two workers share two cores),
and draws its ports from a range of its own
(:func:`hexa_mm.testing.free_port`). The loggers, message hubs and
visualizers a test creates are forgotten after it
(:func:`forget_new_instances`).
"""
import contextlib
import functools
import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import (Any, Callable, Dict, Iterator, List, Sequence, Set, Type,
                    Union)

import pytest
import torch
from filelock import FileLock
from mmengine.config import Config
from mmengine.logging import MessageHub, MMLogger
from mmengine.registry import DefaultScope
from mmengine.utils import ManagerMixin
from mmengine.visualization import Visualizer
from torch.nn.modules.batchnorm import _BatchNorm

from forkrun import close_servers, python_env, run_python
from hexa_mm import register_all_modules
from hexa_mm.engine.pretrained import extract_backbone_state_dict
from hexa_mm.registry import MODELS
from hexa_mm.testing import NARROW_RESNET18, cfg_options, free_port
from hexa_mm.testing.tiny_downstream import make_tiny_downstream_data

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / 'tests'
MOCO_R50 = ROOT / 'configs/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
MOCO_DIGITS = ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
# The narrow ResNet-18 (hexa_mm.testing.NARROW_RESNET18) for the short runs
# of the suite: a 2-epoch tiny run takes a third of the CPU, its checkpoints
# 9 MB instead of 132 MB.
NARROW = tuple(cfg_options(NARROW_RESNET18))
# a 60-image kNN check
TINY_VAL = ('val_dataloader.dataset.bank.indices=40',
            'val_dataloader.dataset.query.indices=20')
# A few iterations of the digits configs: 32 train images, batch 8 per
# process, the kNN check above, a queue of 64, the narrow network.
TINY = ('train_dataloader.batch_size=8',
        'train_dataloader.dataset.indices=32', *TINY_VAL,
        'model.queue_len=64', 'default_hooks.logger.interval=1',
        'default_hooks.checkpoint.interval=1', *NARROW)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers of the suite's tiers; one torch thread in an
    xdist worker."""
    config.addinivalue_line(
        'markers', 'integration: subprocess trainings and downstream runs '
        '(deselect with -m "not integration")')
    if os.environ.get('PYTEST_XDIST_WORKER'):
        torch.set_num_threads(1)
        config.pluginmanager.register(XdistGroupIds())


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what the imports and the collection allocated
    (``gc.freeze``): a collection during a test (mmengine's datasets ask for
    a full one each) walks only what the tests allocated since, not the
    half million objects of torch, the OpenMMLab packages and the test
    modules (a quarter of a second each time)."""
    gc.freeze()


class XdistGroupIds:
    """Make pytest-xdist's groups reach its scheduler under pytest 9.

    For ``--dist loadgroup``, pytest-xdist (3.8) names each test of a group
    ``NODEID@GROUP`` by setting ``item._nodeid``, and the scheduler keeps the
    tests of one name after ``@`` together. pytest 9 no longer reads that
    attribute (an item's ``nodeid`` comes from ``item._id``), so the groups
    are silently lost and their tests spread over the workers. After
    pytest-xdist's hook, this gives each renamed item its new id.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: List[pytest.Item]) -> None:
        """Give ``item._nodeid`` (``NODEID@GROUP``) to ``item._id``."""
        for item in items:
            renamed = vars(item).get('_nodeid')
            if renamed and renamed != item.nodeid:
                item._id = type(item._id).parse(renamed)


#: Fixtures of the suite, not function-scoped, whose users need no xdist
#: group: cheap values, or files made by :func:`once_per_run`.
NO_GROUP = frozenset({
    'tiny_options', 'tiny_eval_options', 'train_downstream', 'made_once', 'digits_run',
    'tiny_downstream_data', 'mocov2_r50_backbone_file',
    'good'  # test_engine/test_reliability.py
})


def _shared_fixtures(item: pytest.Item) -> Set[str]:
    """The module-, class-, package- or session-scoped fixtures of this
    suite (not of pytest or a plugin) that ``item`` uses, but
    :data:`NO_GROUP`.

    Returns:
        set[str]: One key an instance: the fixture's name after its
        module's path (module scope) or where it is defined, and ``:``
        (no ``::`` or ``[``: the key goes into the test's id).
    """
    keys = set()
    info = getattr(item, '_fixtureinfo', None)
    for name, defs in (info.name2fixturedefs.items() if info else ()):
        fixture = defs[-1]
        source = Path(fixture.func.__code__.co_filename)
        if (fixture.scope == 'function' or name in NO_GROUP
                or TESTS not in source.parents):
            continue
        owner = item.path if fixture.scope in ('module', 'class') else source
        keys.add(f'{owner.relative_to(ROOT)}:{name}')
    return keys


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config,
                                  items: List[pytest.Item]) -> None:
    """Mark ``xdist_group`` the tests that share a fixture instance held in
    memory (see :func:`_shared_fixtures`), one group for each set of tests
    linked by such fixtures; ``--dist loadgroup`` runs each group in one
    worker. Tests already marked ``xdist_group`` are left as they are."""
    parent: Dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    users = []
    for item in items:
        if item.get_closest_marker('xdist_group') is None:
            keys = sorted(_shared_fixtures(item))
            for key in keys:
                parent[root(key)] = root(keys[0])
            if keys:
                users.append((item, keys[0]))
    members: Dict[str, List[str]] = {}
    for key in parent:
        members.setdefault(root(key), []).append(key)
    for item, key in users:
        item.add_marker(pytest.mark.xdist_group(min(members[root(key)])))


def _with_subclasses(kind: Type) -> List[Type]:
    """A class and all its subclasses (each ManagerMixin keeps its own
    instances)."""
    return [kind] + [
        sub for child in kind.__subclasses__()
        for sub in _with_subclasses(child)
    ]


@contextlib.contextmanager
def forget_new_instances() -> Iterator[None]:
    """Forget the mmengine loggers, message hubs and visualizers created
    inside the block.

    mmengine keys them by name, and a runner names them after its config and
    a timestamp to the second: a second run in the same process within the
    same second would get the first one's, whose logger writes to the first
    test's captured output, closed by then ("--- Logging error ---").
    Objects still referenced keep working; only the names are released.
    """
    kinds: List[Type[ManagerMixin]] = [
        sub for kind in (MMLogger, MessageHub, Visualizer)
        for sub in _with_subclasses(kind)
    ]
    before = {kind: set(kind._instance_dict) for kind in kinds}
    try:
        yield
    finally:
        for kind, names in before.items():
            for name in set(kind._instance_dict) - names:
                del kind._instance_dict[name]


@pytest.fixture(autouse=True)
def _fresh_mmengine_instances() -> Iterator[None]:
    """Each test's runners get loggers of their own
    (:func:`forget_new_instances`)."""
    with forget_new_instances():
        yield


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """End the servers :func:`forkrun.run_python` started."""
    close_servers()


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str,
                 make: Callable[[Path], Any]) -> Any:
    """Make a session fixture's files once for the whole run, however many
    xdist workers use them (the pytest-xdist recipe: the first worker makes
    them under a file lock in the run's common temporary folder, the others
    wait and read the value it left).

    Args:
        tmp_path_factory (pytest.TempPathFactory): The session's factory.
        name (str): The fixture's name: its folder, lock and value file.
        make (Callable[[Path], Any]): Fills an empty folder and returns the
            fixture's value, JSON-serialisable.

    Returns:
        Any: What ``make`` returned (as JSON gives it back).
    """
    if not os.environ.get('PYTEST_XDIST_WORKER'):
        return make(tmp_path_factory.mktemp(name))
    common = tmp_path_factory.getbasetemp().parent
    value = common / f'{name}.json'
    with FileLock(str(common / f'{name}.lock')):
        if not value.is_file():
            folder = common / name
            if folder.exists():
                pytest.fail(f'{name} failed in another xdist worker: see '
                            'its error there')
            folder.mkdir()
            value.write_text(json.dumps(make(folder)))
    return json.loads(value.read_text())


@pytest.fixture(scope='session')
def made_once(
    tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str, Callable[[Path], Any]], Any]:
    """:func:`once_per_run` for the fixtures of a test module (its name
    joins :data:`NO_GROUP`).

    Returns:
        Callable: ``made_once(name, make)``.
    """
    return functools.partial(once_per_run, tmp_path_factory)


@pytest.fixture(scope='session')
def tiny_options() -> List[str]:
    """``--cfg-options`` that make a digits config train in seconds
    (:data:`TINY`, the network narrowed).

    Returns:
        list[str]: ``key=value`` strings (batch, data, queue, logging).
    """
    return list(TINY)


@pytest.fixture(scope='session')
def tiny_eval_options() -> List[str]:
    """``--cfg-options`` of a tool that reads a checkpoint of a run made
    with :func:`tiny_options` (``knn.py``, ``feature_quality.py``): the
    small kNN sets and the narrow network.

    Returns:
        list[str]: ``key=value`` strings.
    """
    return [*TINY_VAL, *NARROW]


@pytest.fixture
def tool_env() -> Dict[str, str]:
    """The environment the tools run in: this Python (also as ``python``
    and ``PYTHON``), this checkout, one thread a process, no GPU, a free
    ``PORT``.

    Returns:
        dict[str, str]: The environment.
    """
    return dict(
        os.environ,
        PATH=os.pathsep.join([str(Path(sys.executable).parent),
                              os.environ.get('PATH', '')]),
        PYTHON=sys.executable,
        PYTHONPATH=str(ROOT),
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        PORT=str(free_port()))


@pytest.fixture(scope='session')
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work dir of a 2-epoch MoCo-v2 digits run of 2 CPU processes
    through ``tools/dist_train.sh`` (:data:`TINY`: 2 iterations an epoch,
    the kNN monitor after each, the narrow network: a tool that reads its
    checkpoints takes :func:`tiny_eval_options`), with its output in
    ``output.log``.

    Returns:
        Path: The work dir; it holds ``epoch_1.pth`` and ``epoch_2.pth``
        (``last_checkpoint`` points at the latter).
    """
    return Path(once_per_run(tmp_path_factory, 'digits_run', _digits_run))


def _digits_run(work: Path) -> str:
    """Make :func:`digits_run` in ``work``; its path. The launcher is
    real, torchrun and the workers forked (:func:`forkrun.python_env`)."""
    env = python_env(
        dict(os.environ,
             OMP_NUM_THREADS='1',
             CUDA_VISIBLE_DEVICES='',
             PYTHONPATH=str(ROOT),
             PORT=str(free_port())))
    proc = subprocess.run([
        'bash',
        str(ROOT / 'tools/dist_train.sh'),
        str(MOCO_DIGITS), '2', '--work-dir',
        str(work), '--cfg-options', *TINY, 'train_cfg.max_epochs=2',
        'default_hooks.checkpoint.max_keep_ckpts=2'
    ],
                          cwd=ROOT,
                          env=env,
                          capture_output=True,
                          text=True,
                          timeout=600)
    (work / 'output.log').write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return str(work)


@pytest.fixture(scope='session')
def tiny_downstream_data(
        tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """The tiny VOC / COCO / Cityscapes sets, written once per session.

    Returns:
        dict[str, str]: ``'voc'`` (the ``VOCdevkit`` folder), ``'coco'`` and
        ``'cityscapes'`` roots; see
        :func:`hexa_mm.testing.tiny_downstream.make_tiny_downstream_data`.
    """
    return once_per_run(
        tmp_path_factory, 'tiny_downstream',
        lambda folder: make_tiny_downstream_data(str(folder), seed=0))


@pytest.fixture(scope='session')
def mocov2_r50_backbone_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backbone of hexa_mm's MoCo-v2 ResNet-50, extracted as the tools
    extract it; its batch norms (weights and statistics) are moved off their
    initial values so that loading them is visible too.

    Returns:
        Path: A weights-only backbone ``state_dict`` file.
    """
    return Path(
        once_per_run(tmp_path_factory, 'mocov2_r50',
                     _mocov2_r50_backbone_file))


def _mocov2_r50_backbone_file(folder: Path) -> str:
    """Make :func:`mocov2_r50_backbone_file` in ``folder``; its path."""
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        moco = MODELS.build(Config.fromfile(MOCO_R50).model)
    with torch.no_grad():
        for module in moco.backbone.modules():
            if isinstance(module, _BatchNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_()
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2)
    weights = extract_backbone_state_dict(moco.state_dict())
    assert weights.keys() == moco.backbone.state_dict().keys()
    path = folder / 'backbone.pth'
    torch.save(weights, path)
    return str(path)


@pytest.fixture(scope='session')
def train_downstream() -> Callable[..., str]:
    """Run ``tools/benchmarks/train_downstream.py`` in one process without a
    GPU (forked: :func:`forkrun.run_python`).

    Returns:
        Callable: ``run(config, backbone, work_dir, options)`` returns the
        run's log; it fails the test with the log's tail if the run fails.
    """

    def run(config: Union[str, Path], backbone: Union[str, Path],
            work_dir: Union[str, Path], options: Sequence[str]) -> str:
        proc = run_python([
            ROOT / 'tools/benchmarks/train_downstream.py', config, backbone,
            '--work-dir', work_dir, '--cfg-options', *options
        ],
                          env=dict(
                              os.environ,
                              OMP_NUM_THREADS='1',
                              CUDA_VISIBLE_DEVICES='',
                              PYTHONPATH=str(ROOT)),
                          cwd=ROOT,
                          timeout=600)
        log = proc.stdout + proc.stderr
        assert proc.returncode == 0, log[-3000:]
        return log

    return run
