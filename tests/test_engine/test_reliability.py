"""Lose nothing: exact resume after SIGKILL, kills inside a save, checkpoints
that cannot run code, and one ``error:`` line for each bad input.

Integration tests (``pytest -m integration``): real trainings of the digits
configs, tiny (32 images, batch 4 a process, queue 64), two processes where a
run is killed. The two ranks are forked from the suite's preloaded server
with torchrun's variables (:func:`forkrun.start_python`): what is tested is
what a run leaves behind, not torchrun (``test_launchers.py`` tests it).
"""
import gc
import hashlib
import os
import os.path as osp
import pickle
import re
import runpy
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.runner import CheckpointLoader

from conftest import NARROW
from forkrun import ForkedRun, start_python
from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS
from hexa_mm.utils import CheckpointError

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
HELPERS = Path(__file__).resolve().parent
CONFIGS = {
    'mocov2':
    ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py',
    'hexa_mocov2':
    ROOT /
    'configs/hexa_mocov2/hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py',
    'deepclusterv2':
    ROOT /
    'configs/deepclusterv2/deepclusterv2_resnet18_2xb64-coslr-30e_digits.py',
}
# 32 images, 2 processes x batch 4: 4 iterations an epoch, 2 epochs; an
# epoch checkpoint (only the last kept, as in the digits configs) and
# latest.pth after iterations 2 and 6 (inside epochs 1 and 2); the narrow
# network of the suite's short runs
TINY = [
    'train_dataloader.batch_size=4', 'train_dataloader.dataset.indices=32',
    'val_dataloader.dataset.bank.indices=40',
    'val_dataloader.dataset.query.indices=20',
    'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=1',
    'default_hooks.checkpoint.max_keep_ckpts=1',
    'default_hooks.checkpoint.latest_interval=2', 'train_cfg.max_epochs=2',
    *NARROW
]
ITERS = 8
# the algorithm's own training state
STATE = {
    'mocov2': '/state_dict/queue',
    'hexa_mocov2': '/state_dict/queue',
    'deepclusterv2': '/deepcluster/memory_bank/embeddings'
}
# what differs between two runs of the same training: where and when
RUN_SPECIFIC = re.compile(
    r'^/meta/(cfg|time|experiment_name)$'
    r'|^/message_hub/runtime_info/(cfg|experiment_name|last_ckpt)$'
    r'|^/message_hub/log_scalars/\w+/(data_)?time/')

# the runs started by :func:`launch` that a test may have left running
STARTED: List[ForkedRun] = []


def run_env() -> dict:
    return dict(
        os.environ,
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        PYTHONPATH=os.pathsep.join(
            filter(None,
                   [str(ROOT),
                    str(HELPERS),
                    os.environ.get('PYTHONPATH')])))


def write_config(folder: Path, algorithm: str, **stop) -> Path:
    """A config: the algorithm's digits config (a MoCo queue of 64) plus
    :class:`StopHereHook`.

    Args:
        folder (Path): Where to write it; its markers go to ``markers``.
        algorithm (str): A key of ``CONFIGS``.
        **stop: Where the hook stops the run (none: it does nothing).

    Returns:
        Path: The config file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    hook = dict(
        type='StopHereHook', marker_dir=str(folder / 'markers'), **stop)
    base_hooks = '_base_.custom_hooks + ' if algorithm == 'deepclusterv2' \
        else ''
    queue = '' if algorithm == 'deepclusterv2' else \
        'model = dict(queue_len=64)\n'
    config = folder / f'{algorithm}.py'
    config.write_text(f"_base_ = '{CONFIGS[algorithm]}'\n"
                      "custom_imports = dict(imports=['reliability_helpers'], "
                      'allow_failed_imports=False)\n'
                      f'custom_hooks = {base_hooks}[{hook!r}]\n{queue}')
    return config


def launch(config: Path, work_dir: Path, *args: str) -> ForkedRun:
    """Start tools/train.py with 2 processes (``--launcher pytorch``), as
    torchrun would.

    Returns:
        ForkedRun: The two ranks; their output goes to the file
        ``proc.log``.
    """
    runs = len(list(work_dir.parent.glob(f'{work_dir.name}-*.log')))
    log = work_dir.parent / f'{work_dir.name}-{runs}.log'
    argv = [
        ROOT / 'tools/train.py', config, '--launcher', 'pytorch',
        '--work-dir', work_dir, *args, '--cfg-options', *TINY
    ]
    proc = start_python(argv, log, env=run_env(), cwd=ROOT, nproc=2)
    STARTED.append(proc)
    return proc


@pytest.fixture(autouse=True)
def no_run_left() -> Iterator[None]:
    """Kill, at the end of each test, a run it left running (an assertion
    failed while it ran): it would hold the fork server."""
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def finish(proc: ForkedRun) -> str:
    """Wait for a run; its log.

    Returns:
        str: Everything it printed.
    """
    proc.wait(timeout=600)
    return proc.log.read_text()


def train(config: Path, work_dir: Path, *args: str) -> str:
    """Run to the end and expect success.

    Returns:
        str: The log.
    """
    proc = launch(config, work_dir, *args)
    log = finish(proc)
    assert proc.returncode == 0, log[-3000:]
    return log


def entries(checkpoint: object,
            path: str = '') -> Iterator[Tuple[str, object]]:
    """Every leaf of a checkpoint with its path.

    Yields:
        tuple[str, object]: ``/key/...`` and the value.
    """
    if isinstance(checkpoint, dict):
        for key, value in checkpoint.items():
            yield from entries(value, f'{path}/{key}')
    elif isinstance(checkpoint, (list, tuple)):
        for i, value in enumerate(checkpoint):
            yield from entries(value, f'{path}/{i}')
    else:
        yield path, checkpoint


def assert_same_run(resumed: Path, expected: Path) -> List[str]:
    """Assert that two final checkpoints hold the same run, every entry
    bit-identical but where and when it ran.

    Returns:
        list[str]: The entries compared.
    """
    got = dict(entries(torch.load(resumed, weights_only=True)))
    want = dict(entries(torch.load(expected, weights_only=True)))
    assert got.keys() == want.keys()
    compared = [key for key in want if not RUN_SPECIFIC.match(key)]
    differ = [
        key for key in compared if not (
            torch.equal(got[key], want[key]) and got[key].dtype == want[key].
            dtype if torch.is_tensor(want[key]) else got[key] == want[key])
    ]
    assert differ == []
    return compared


@pytest.fixture(scope='module')
def uninterrupted(
        tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The final checkpoint of each algorithm's run, not interrupted, made
    on first use.

    Returns:
        callable: Algorithm to ``epoch_2.pth``.
    """
    done: Dict[str, Path] = {}

    def get(algorithm: str) -> Path:
        if algorithm not in done:
            folder = tmp_path_factory.mktemp(f'uninterrupted_{algorithm}')
            train(write_config(folder, algorithm), folder / 'work')
            done[algorithm] = folder / 'work' / 'epoch_2.pth'
        return done[algorithm]

    return get


def kill(folder: Path, proc: ForkedRun) -> None:
    """SIGKILL both processes (each with its process group).

    Args:
        folder (Path): The run's folder (its ``markers``: each process's
            pid, written when training starts).
        proc (ForkedRun): The run.
    """
    pids = [int(p.read_text()) for p in (folder / 'markers').glob('pid*')]
    # two processes of their own trained: the ranks that were started
    assert sorted(pids) == sorted(proc.pids) and len(set(pids)) == 2
    proc.kill()
    proc.wait(timeout=60)


def wait_for(path: Path, proc: ForkedRun) -> None:
    """Wait until a marker file exists (the run must not end first)."""
    deadline = time.monotonic() + 600
    while not path.exists():
        assert proc.poll() is None, finish(proc)[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)


def pointer(work_dir: Path) -> str:
    """The checkpoint ``last_checkpoint`` names (its file name)."""
    return osp.basename((work_dir / 'last_checkpoint').read_text().strip())


def uses_uninterrupted(algorithm: str) -> pytest.MarkDecorator:
    """The xdist group of the tests that compare with ``algorithm``'s
    uninterrupted run: one worker makes it, once."""
    return pytest.mark.xdist_group(f'uninterrupted_{algorithm}')


@pytest.mark.parametrize('algorithm', [
    pytest.param(algorithm, marks=uses_uninterrupted(algorithm))
    for algorithm in CONFIGS
])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(
        algorithm: str, uninterrupted: Callable[[str], Path],
        tmp_path: Path) -> None:
    work = tmp_path / 'work'
    proc = launch(
        write_config(tmp_path / 'kill', algorithm, block_after_iter=3), work)
    wait_for(tmp_path / 'kill' / 'markers' / 'stopped', proc)
    kill(tmp_path / 'kill', proc)
    # killed after iteration 3 (epoch 1, batch 3): latest.pth of iteration
    # 2 is the last checkpoint; the lock of the dead run is gone with it
    assert pointer(work) == 'latest.pth'
    assert torch.load(work / 'latest.pth', weights_only=True)['meta'] \
        ['iter'] == 2
    assert not (work / 'epoch_1.pth').exists()

    # the rest of epoch 1, a validation, epoch 2 (DeepCluster: clusters of
    # epoch 1 from the checkpoint, of epoch 2 computed again)
    log = train(write_config(tmp_path, algorithm), work, '--resume')
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Resuming inside epoch 1: its first 2 batches' in log
    assert 'Epoch(train) [1][3/4]' in log
    assert 'Epoch(train) [1][2/4]' not in log
    assert 'Epoch(train) [2][4/4]' in log
    compared = assert_same_run(work / 'epoch_2.pth', uninterrupted(algorithm))
    # weights, optimizer, both processes' generators, the algorithm's state
    for key in ('/state_dict/backbone.conv1.weight',
                '/optimizer/state/0/momentum_buffer',
                '/loop_state/rng/0/torch', '/loop_state/rng/1/numpy/keys',
                '/message_hub/log_scalars/train/loss/log_history',
                STATE[algorithm]):
        assert key in compared


@uses_uninterrupted('mocov2')
def test_sigkill_inside_a_save_keeps_every_checkpoint(
        uninterrupted: Callable[[str], Path], tmp_path: Path) -> None:
    work = tmp_path / 'work'
    proc = launch(
        write_config(tmp_path / 'kill', 'mocov2', kill_in_save_at_iter=ITERS),
        work)
    log = finish(proc)
    assert proc.returncode != 0
    # process 0 died writing epoch_2.pth: a torn temporary file, no
    # epoch_2.pth; epoch_1.pth (max_keep_ckpts=1) not deleted yet; the
    # pointer names the last complete checkpoint
    torn = list(work.glob('.tmp-*.pth'))
    assert len(torn) == 1 and torn[0].stat().st_size > 0, log[-3000:]
    assert not (work / 'epoch_2.pth').exists()
    assert pointer(work) == 'latest.pth'
    for name, it in (('epoch_1.pth', 4), ('latest.pth', 6)):
        assert torch.load(work / name, weights_only=True)['meta']['iter'] == it

    log = train(write_config(tmp_path, 'mocov2'), work, '--resume')
    assert f'Removed {torn[0]}, left by a save that was interrupted' in log
    assert not list(work.glob('.tmp-*'))
    # epoch_1.pth went once epoch_2.pth and the pointer were complete
    assert sorted(
        p.name for p in work.glob('*.pth')) == ['epoch_2.pth', 'latest.pth']
    assert pointer(work) == 'epoch_2.pth'
    assert_same_run(work / 'epoch_2.pth', uninterrupted('mocov2'))


# --- checkpoints that cannot run code ----------------------------------------


class SystemCall:
    """Pickles as ``os.system(command)``."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple:
        return os.system, (self.command, )


class EvalCall(SystemCall):
    """Pickles as ``eval(expression)``: the builtins as a way in."""

    def __reduce__(self) -> tuple:
        return eval, (f'__import__("os").system({self.command!r})', )


class SubprocessCall(SystemCall):
    """Pickles as ``subprocess.call(['sh', '-c', command])``."""

    def __reduce__(self) -> tuple:
        return subprocess.call, (['sh', '-c', self.command], )


def evil_files(folder: Path, marker: Path,
               state_dict: dict) -> Dict[str, Path]:
    """Five checkpoints whose loading would write ``marker``.

    Args:
        folder (Path): Where to write them.
        marker (Path): The file the payload writes.
        state_dict (dict): A real model's weights, for the one that hides
            its payload among them.

    Returns:
        dict[str, Path]: Variant to file; the value names the global torch
        must refuse.
    """
    command = f'echo pwned > {marker}'
    folder.mkdir(parents=True, exist_ok=True)
    files = {}

    def save(name: str, obj: object, **kwargs) -> None:
        files[name] = folder / f'{name}.pth'
        torch.save(obj, files[name], **kwargs)

    save('posix.system', dict(meta=SystemCall(command), state_dict={}))
    hidden = dict(state_dict)
    hidden['backbone.conv1.weight'] = EvalCall(command)
    save('builtins.eval', dict(meta=dict(epoch=1, iter=4), state_dict=hidden))
    save(
        'legacy-format',
        dict(state_dict={}, x=SystemCall(command)),
        _use_new_zipfile_serialization=False)
    files['plain-pickle'] = folder / 'plain-pickle.pth'
    files['plain-pickle'].write_bytes(
        pickle.dumps(dict(state_dict=SubprocessCall(command))))
    save(
        'message-hub',
        dict(
            state_dict=state_dict,
            message_hub=dict(log_scalars={},
                             runtime_info=SystemCall(command))))
    return files


REFUSED = {
    'posix.system': 'posix.system',
    'builtins.eval': 'builtins.eval',
    'legacy-format': 'posix.system',
    'plain-pickle': 'subprocess.call',
    'message-hub': 'posix.system'
}


def run_tool(monkeypatch, capsys, tool: str, *args) -> Tuple[int, str]:
    """Run a tool's ``main()`` in this process.

    Returns:
        tuple[int, str]: The exit status and what it printed (stdout, then
        stderr).
    """
    path = ROOT / 'tools' / tool
    monkeypatch.setattr(sys, 'argv', [str(path), *map(str, args)])
    # A run's data loader iterator, with its workers, is cyclic garbage
    # here (the runner, a traceback): gc may close its index queues before
    # the iterator asks its workers to stop, and torch then waits this long
    # for each worker (5 s) before it terminates them.
    monkeypatch.setattr(torch.utils.data._utils, 'MP_STATUS_CHECK_INTERVAL',
                        0.5)
    try:
        code = runpy.run_path(str(path))['main']()
    except SystemExit as err:
        code = err.code
    out, err = capsys.readouterr()
    gc.collect()
    return code, out + err


# tiny data; no copy of the data sets (mmengine's copy collects garbage,
# slow in a long test process)
DATA_TINY = [
    'train_dataloader.dataset.indices=32', 'train_dataloader.batch_size=8',
    'val_dataloader.dataset.bank.indices=40',
    'val_dataloader.dataset.query.indices=20',
    'train_dataloader.dataset.serialize_data=False',
    'val_dataloader.dataset.bank.serialize_data=False',
    'val_dataloader.dataset.query.serialize_data=False'
]
VAL_TINY = [opt for opt in DATA_TINY if opt.startswith('val_')]
DIGITS_TINY = DATA_TINY + ['model.queue_len=64']
LINEAR = ROOT / ('configs/benchmarks/classification/digits/'
                 'resnet18_linear-2xb64-steplr-10e_digits.py')
ENTRY_POINTS: Dict[str, Callable[[Path, Path], tuple]] = {
    'train.py --resume':
    lambda evil, tmp: ('train.py', CONFIGS['mocov2'], '--work-dir', tmp / 'w',
                       '--resume', evil, '--cfg-options', *DIGITS_TINY),
    'train.py load_from':
    lambda evil, tmp: ('train.py', CONFIGS['mocov2'], '--work-dir', tmp / 'w',
                       '--cfg-options', f'load_from={evil}', *DIGITS_TINY),
    'knn.py':
    lambda evil, tmp:
    ('benchmarks/classification/knn.py', CONFIGS['mocov2'], evil, '--work-dir',
     tmp / 'w', '--cfg-options', *VAL_TINY, 'model.queue_len=64'),
    'feature_quality.py':
    lambda evil, tmp:
    ('analysis/feature_quality.py', CONFIGS['mocov2'], '--checkpoint',
     f'x={evil}', '--cfg-options', *VAL_TINY, 'model.queue_len=64'),
    'extract_backbone_weights.py':
    lambda evil, tmp: ('model_converters/extract_backbone_weights.py', evil,
                       tmp / 'backbone.pth'),
    'train_downstream.py':
    lambda evil, tmp:
    ('benchmarks/train_downstream.py', LINEAR, evil, '--work-dir', tmp / 'w'),
    'vis_hard_examples.py':
    lambda evil, tmp:
    ('visualization/vis_hard_examples.py', CONFIGS['hexa_mocov2'],
     '--checkpoint', evil, '--out', tmp / 'x.png', '--batch', 4, '--num', 2,
     '--cfg-options', *DIGITS_TINY),
}


@pytest.fixture(scope='module')
def evil(tmp_path_factory: pytest.TempPathFactory) -> Tuple[dict, Path]:
    """The malicious files and the marker their payload would write."""
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIGS['mocov2'])
    cfg.model.queue_len = 64
    with DefaultScope.overwrite_default_scope('hexa_mm'):
        state_dict = MODELS.build(cfg.model).state_dict()
    folder = tmp_path_factory.mktemp('evil')
    # each payload runs when loaded without weights_only
    probe = folder / 'probe'
    for path in evil_files(folder / 'live', probe, state_dict).values():
        try:
            torch.load(path, weights_only=False)
        except RuntimeError:  # the plain pickle, after its payload ran
            pass
        assert probe.exists(), path
        probe.unlink()
    marker = folder / 'pwned'
    return evil_files(folder, marker, state_dict), marker


@pytest.mark.parametrize('override', [False, True])
@pytest.mark.parametrize('variant', list(REFUSED))
@pytest.mark.parametrize('entry_point', list(ENTRY_POINTS))
def test_no_checkpoint_runs_code(entry_point: str, variant: str,
                                 override: bool, evil, tmp_path: Path,
                                 monkeypatch, capsys) -> None:
    files, marker = evil
    if override:  # torch's switch that makes its default unsafe
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    code, output = run_tool(
        monkeypatch, capsys, *ENTRY_POINTS[entry_point](files[variant],
                                                        tmp_path))
    assert not marker.exists(), output[-2000:]
    errors = [line for line in output.splitlines() if 'error:' in line]
    assert code == 2 and len(errors) == 1, output[-2000:]
    assert errors[0].startswith(f'error: Refused to load checkpoint '
                                f'{files[variant]}: it needs the '
                                f'not-allow-listed global {REFUSED[variant]}')
    assert 'Traceback' not in output


@pytest.mark.parametrize('override', [False, True])
def test_mmengine_loaders_go_through_the_weights_only_one(
        override: bool, evil, monkeypatch) -> None:
    # what mmengine's Pretrained initialiser and load_checkpoint call
    files, marker = evil
    if override:
        monkeypatch.setenv('TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD', '1')
    for variant, path in files.items():
        with pytest.raises(CheckpointError, match=REFUSED[variant]):
            CheckpointLoader.load_checkpoint(str(path), map_location='cpu')
    backbone = MODELS.build(
        dict(
            type='mmpretrain.ResNet',
            depth=18,
            init_cfg=dict(
                type='Pretrained', checkpoint=str(files['posix.system']))))
    with pytest.raises(CheckpointError, match='posix.system'):
        backbone.init_weights()
    assert not marker.exists()


# --- bad inputs: one line, exit 2, nothing lost ------------------------------


@pytest.fixture(scope='module')
def good(made_once: Callable) -> Dict[str, object]:
    """A MoCo-v2 work dir to protect: ``epoch_1.pth`` and ``latest.pth``
    (after 2 of the 4 iterations of epoch 1, batch 8, one process), and the
    SHA-256 of each; made once for all xdist workers.

    Returns:
        dict: ``dir`` (a Path) and ``sha256`` (file name to digest).
    """
    value = made_once('reliability_good', _good)
    return dict(dir=Path(value['dir']), sha256=value['sha256'])


def _good(folder: Path) -> Dict[str, object]:
    """Make :func:`good` in ``folder``."""
    code = runpy.run_path(str(ROOT / 'tools/train.py'))
    argv = [
        'train.py',
        str(CONFIGS['mocov2']), '--work-dir',
        str(folder), '--cfg-options', *DIGITS_TINY, 'train_cfg.max_epochs=1',
        'default_hooks.checkpoint.latest_interval=2'
    ]
    saved, sys.argv = sys.argv, argv
    try:
        assert code['main']() == 0
    finally:
        sys.argv = saved
    gc.collect()
    return dict(
        dir=str(folder),
        sha256={
            name: sha256(folder / name)
            for name in ('epoch_1.pth', 'latest.pth')
        })


def sha256(path: Path) -> str:
    with open(path, 'rb') as f:
        return hashlib.file_digest(f, 'sha256').hexdigest()


def image_folder(folder: Path, bad: Dict[str, bytes]) -> Path:
    """32 digit images as PNG files, some replaced by bad bytes.

    Args:
        folder (Path): Where.
        bad (dict[str, bytes]): File name to content.

    Returns:
        Path: The folder.
    """
    from PIL import Image
    from sklearn.datasets import load_digits
    folder.mkdir(parents=True)
    for i, image in enumerate(load_digits().images[:32]):
        Image.fromarray((image * 15).astype('uint8')).resize(
            (32, 32)).convert('RGB').save(folder / f'{i:02d}.png')
    for name, content in bad.items():
        (folder / name).write_bytes(content)
    return folder


def folder_config(tmp: Path,
                  data: Path,
                  algorithm: str = 'mocov2',
                  views: str = 'view_pipeline') -> Path:
    """A digits config on an image folder (mmpretrain's ``CustomDataset``
    and ``LoadImageFromFile``): MoCo-v2's unless ``algorithm`` (a key of
    ``CONFIGS``) and its ``views`` (the base's pipeline of a view) say
    otherwise."""
    config = tmp / 'folder.py'
    config.write_text(
        f"_base_ = '{CONFIGS[algorithm]}'\n"
        'train_dataloader = dict(dataset=dict(_delete_=True, '
        f"type='CustomDataset', data_prefix='{data}', with_label=False, "
        "pipeline=[dict(type='LoadImageFromFile'), dict(type='MultiView', "
        f"num_views=2, transforms=[_base_.{views}]), "
        "dict(type='PackInputs')]))\n")
    return config


def text_config(tmp: Path, name: str, text: str) -> Path:
    """A config file: the MoCo-v2 digits config plus ``text``."""
    config = tmp / name
    config.write_text(f"_base_ = '{CONFIGS['mocov2']}'\n{text}")
    return config


def unwritable(tmp: Path) -> Path:
    """A folder this process cannot write to (as root: one in sysfs)."""
    if os.geteuid() == 0:
        return Path('/sys/hexa_mm_work_dir')
    folder = tmp / 'read_only'
    folder.mkdir()
    folder.chmod(0o555)
    return folder / 'work'


def truncated(tmp: Path, good: dict) -> Path:
    path = tmp / 'truncated.pth'
    data = (good['dir'] / 'epoch_1.pth').read_bytes()
    path.write_bytes(data[:len(data) // 2])
    return path


def saved(tmp: Path, name: str, obj: object) -> Path:
    path = tmp / name
    torch.save(obj, path)
    return path


def written(tmp: Path, name: str, content: bytes) -> Path:
    path = tmp / name
    path.write_bytes(content)
    return path


def opts(*extra: str, moco: bool = True) -> List[str]:
    """``--cfg-options``: tiny data (and a queue of 64 for MoCo), then
    ``extra``, which wins."""
    return ['--cfg-options', *(DIGITS_TINY if moco else DATA_TINY), *extra]


MOCO = CONFIGS['mocov2']
# name: (tools/train.py's arguments, given the test's folder and the good
# work dir; what the error line says). The work dir is the good one's copy
# unless --work-dir is given.
# yapf: disable
BAD_INPUTS: Dict[str, Tuple[Callable, str]] = {
    'missing config':
    (lambda t, g: [t / 'nope.py'], r'nope\.py'),
    'config syntax error':
    (lambda t, g: [written(t, 'bad.py', b'model = dict(\n')],
     r"config .*bad\.py has a syntax error: '\(' was never closed "
     r'\(line 1\)'),
    'unknown model type':
    (lambda t, g: [MOCO, *opts('model.type=MoCoV9')],
     r'unknown type: MoCoV9 is not in the hexa_mm::model registry'),
    'unknown hook type':
    (lambda t, g: [text_config(t, 'hook.py', "custom_hooks = "
                               "[dict(type='NoSuchHook')]\n"), *opts()],
     r'unknown type: NoSuchHook is not in the .*hook registry'),
    'mistyped model key':
    (lambda t, g: [MOCO, *opts('model.queu_len=64')],
     r"unexpected keyword argument 'queu_len'"),
    'mistyped top-level key':
    (lambda t, g: [MOCO, *opts('optim_wraper.optimizer.lr=0.1')],
     r"no top-level key 'optim_wraper' \(did you mean optim_wrapper\?\)"),
    'mistyped loop key':
    (lambda t, g: [MOCO, *opts('train_cfg.max_epoch=2')],
     r"unexpected keyword argument 'max_epoch'"),
    'cross-algorithm resume':
    (lambda t, g: [CONFIGS['deepclusterv2'], '--resume',
                   g['dir'] / 'epoch_1.pth', *opts(moco=False)],
     r'epoch_1\.pth does not fit this model: \d+ keys missing '
     r'\(prototypes.*; \d+ keys not in the model \(queue'),
    'resume with another queue length':
    (lambda t, g: [MOCO, '--resume', g['dir'] / 'epoch_1.pth',
                   *opts('model.queue_len=128')],
     r'does not fit this model: 1 keys of another shape \(queue '
     r'\(128, 64\) in the checkpoint, \(128, 128\) in the model\)'),
    'load_from another architecture':
    (lambda t, g: [MOCO, *opts(f'load_from={g["dir"] / "epoch_1.pth"}',
                               'model.backbone.depth=34')],
     r'does not fit the backbone \(backbone\.\*\): \d+ keys missing '
     r'\(backbone\.layer1\.2\.'),
    'truncated checkpoint (--resume)':
    (lambda t, g: [MOCO, '--resume', truncated(t, g), *opts()],
     r'cannot load checkpoint .*truncated\.pth: .*truncated, corrupt'),
    'truncated checkpoint (load_from)':
    (lambda t, g: [MOCO, *opts(f'load_from={truncated(t, g)}')],
     r'cannot load checkpoint .*truncated\.pth: .*truncated, corrupt'),
    'empty checkpoint':
    (lambda t, g: [MOCO, '--resume', written(t, 'empty.pth', b''), *opts()],
     r'cannot load checkpoint .*empty\.pth'),
    'not a checkpoint':
    (lambda t, g: [MOCO, '--resume', written(t, 'notes.pth', b'hello\n'),
                   *opts()],
     r'(cannot load|Refused to load) checkpoint .*notes\.pth'),
    'checkpoint of a list':
    (lambda t, g: [MOCO, '--resume', saved(t, 'list.pth', [1, 2]), *opts()],
     r'list\.pth holds a list, not a dict'),
    'missing checkpoint':
    (lambda t, g: [MOCO, '--resume', t / 'none.pth', *opts()],
     r'checkpoint .*none\.pth does not exist'),
    'checkpoint that runs code':
    (lambda t, g: [MOCO, '--resume', saved(t, 'evil.pth', dict(
        meta=SystemCall(f'echo pwned > {t / "pwned"}'))), *opts()],
     r'evil\.pth: it needs the not-allow-listed global posix\.system'),
    'resume inside an epoch with another batch size':
    (lambda t, g: [MOCO, '--resume', g['dir'] / 'latest.pth',
                   *opts('train_dataloader.batch_size=4')],
     r'saved after 2 iterations of epoch 1 by 1 process\(es\) with 4 '
     r'iterations per epoch; this run has 1 with 8'),
    'one view given to MoCo':
    (lambda t, g: [text_config(t, 'one_view.py', 'train_dataloader = dict('
                   "dataset=dict(pipeline=[dict(type='MultiView', "
                   "num_views=1, transforms=[_base_.view_pipeline]), "
                   "dict(type='PackInputs')]))\n"), *opts()],
     r'MoCoV2 needs 2 views per image \(query and key\), got 1; use '
     r'MultiView\(num_views=2\)'),
    'corrupt image':
    (lambda t, g: [folder_config(t, image_folder(t / 'images', {
        '07.png': b'\x89PNG\r\n\x1a\n not an image'})), *opts()],
     r'cannot load training sample 7 \(.*images/07\.png\)'),
    'corrupt image in a data worker':
    (lambda t, g: [folder_config(t, image_folder(t / 'images', {
        '07.png': b'\x89PNG\r\n\x1a\n not an image'})),
                   *opts('train_dataloader.num_workers=2')],
     r'^error: cannot load training sample 7 \(.*images/07\.png\)'),
    'corrupt image in the DeepCluster-v2 fill pass, in a data worker':
    (lambda t, g: [folder_config(t, image_folder(t / 'images', {
        '07.png': b'\x89PNG\r\n\x1a\n not an image'}), 'deepclusterv2',
        'view_pipeline1'), *opts('train_dataloader.num_workers=2',
                                 moco=False)],
     r'^error: cannot load training sample 7 \(.*images/07\.png\)'),
    'empty image':
    (lambda t, g: [folder_config(t, image_folder(t / 'images', {
        '03.png': b''})), *opts()],
     r'cannot load training sample 3 \(.*images/03\.png\)'),
    'missing image folder':
    (lambda t, g: [folder_config(t, t / 'no_images'), *opts()],
     r'data_prefix .*no_images does not exist'),
    'work dir is a file':
    (lambda t, g: [MOCO, '--work-dir', written(t, 'file', b''), *opts()],
     r'work dir .*file is a file, not a folder'),
    'work dir cannot be written to':
    (lambda t, g: [MOCO, '--work-dir', unwritable(t), *opts()],
     r'work dir .* cannot be written to'),
    'data set smaller than a batch':
    (lambda t, g: [MOCO, *opts('train_dataloader.batch_size=64')],
     r'the train data loader gives 0 batches per epoch: 32 samples'),
    'non-finite loss':
    (lambda t, g: [MOCO, *opts('optim_wrapper.optimizer.lr=1e12')],
     r'the loss is not finite at iteration \d+ .*the last checkpoint, '
     r'.*epoch_1\.pth, is kept'),
    'queue not a multiple of the batch':
    (lambda t, g: [MOCO, *opts('model.queue_len=60')],
     r'queue_len=60 is not a multiple of the global batch size 8'),
}
# yapf: enable


@pytest.mark.parametrize('case', list(BAD_INPUTS))
def test_bad_input_is_one_line_and_loses_nothing(case: str, good: dict,
                                                 tmp_path: Path, monkeypatch,
                                                 capsys) -> None:
    # the work dir holds the good run's checkpoints (hard links: a write in
    # place would show), with its pointer
    work = tmp_path / 'work'
    copy_of_good(good, work)
    make_args, expected = BAD_INPUTS[case]
    args = [str(arg) for arg in make_args(tmp_path, good)]
    if '--work-dir' not in args:
        args[1:1] = ['--work-dir', str(work)]
    code, output = run_tool(monkeypatch, capsys, 'train.py', *args)

    errors = [line for line in output.splitlines() if 'error:' in line]
    assert code == 2 and len(errors) == 1, output[-3000:]
    assert errors[0].startswith('error: ')
    assert re.search(expected, errors[0]), errors[0]
    assert 'Traceback' not in output
    assert sorted(p.name for p in work.glob('*.pth')) == sorted(good['sha256'])
    for name, digest in good['sha256'].items():
        assert sha256(work / name) == digest, name
    assert (work / 'last_checkpoint').read_text() == str(work / 'epoch_1.pth')
    assert not (tmp_path / 'pwned').exists()


def copy_of_good(good: dict, work: Path) -> None:
    """Hard links of the good run's checkpoints in ``work``, and its
    pointer."""
    work.mkdir()
    for name in good['sha256']:
        os.link(good['dir'] / name, work / name)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))


def test_second_run_into_a_work_dir_is_refused(good: dict, tmp_path: Path,
                                               monkeypatch, capsys) -> None:
    work = tmp_path / 'work'
    copy_of_good(good, work)
    # another process (forked) takes the lock, says so, and keeps it
    script = tmp_path / 'hold.py'
    script.write_text('import sys, time\n'
                      'from hexa_mm.engine.work_dir import lock_work_dir\n'
                      'lock_work_dir(sys.argv[1])\n'
                      'open(sys.argv[2], "w").close()\n'
                      'time.sleep(600)\n')
    holder = start_python([script, work, tmp_path / 'locked'],
                          tmp_path / 'holder.log',
                          env=run_env())
    try:
        wait_for(tmp_path / 'locked', holder)
        code, output = run_tool(monkeypatch, capsys, 'train.py', MOCO,
                                '--work-dir', work, '--resume', *opts())
    finally:
        holder.kill()
        holder.wait()
    errors = [line for line in output.splitlines() if 'error:' in line]
    assert code == 2 and errors == [
        f'error: work dir {work} is in use by another run (pid '
        f'{holder.pids[0]} on {socket.gethostname()} since ' +
        errors[0].split(' since ')[1]
    ], output[-3000:]
    for name, digest in good['sha256'].items():
        assert sha256(work / name) == digest, name
    # the holder is gone (killed): its lock went with it
    code, output = run_tool(monkeypatch, capsys, 'train.py', MOCO,
                            '--work-dir', work, '--resume',
                            *opts('train_cfg.max_epochs=1'))
    assert code == 0, output[-3000:]


def test_auto_resume_with_nothing_to_resume_starts_fresh(
        tmp_path: Path, monkeypatch, capsys) -> None:
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'notes.txt').write_text('keep me\n')
    code, output = run_tool(monkeypatch, capsys, 'train.py', MOCO,
                            '--work-dir', work, '--resume',
                            *opts('train_cfg.max_epochs=1'))
    assert code == 0, output[-3000:]
    assert f'Nothing to resume in {work} (no last_checkpoint, no ' \
        'checkpoint file): training starts from scratch.' in output
    assert 'Epoch(train) [1][4/4]' in output
    assert (work / 'notes.txt').read_text() == 'keep me\n'
    assert (work / 'epoch_1.pth').exists()


def test_auto_resume_without_a_pointer_takes_the_newest_checkpoint(
        good: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    work = tmp_path / 'work'
    copy_of_good(good, work)
    (work / 'last_checkpoint').write_text(str(tmp_path / 'moved.pth'))
    os.utime(work / 'latest.pth')  # the newest now
    code, output = run_tool(
        monkeypatch, capsys, 'train.py', MOCO, '--work-dir', work, '--resume',
        *opts('train_cfg.max_epochs=1', 'default_hooks.logger.interval=1'))
    assert code == 0, output[-3000:]
    assert f'Auto-resuming from {work / "latest.pth"}.' in output
    assert 'Resuming inside epoch 1: its first 2 batches' in output
    assert 'Epoch(train) [1][3/4]' in output
    assert 'Epoch(train) [1][2/4]' not in output


def test_data_workers_change_nothing(tmp_path: Path, monkeypatch,
                                     capsys) -> None:
    # each sample's augmentation is seeded from (seed, epoch, index): the
    # same run with 2 persistent data workers ends with the same tensors
    runs = {}
    for workers in (0, 2):
        work = tmp_path / f'workers{workers}'
        code, output = run_tool(
            monkeypatch, capsys, 'train.py', MOCO, '--work-dir', work,
            *opts('train_cfg.max_epochs=2',
                  f'train_dataloader.num_workers={workers}',
                  f'train_dataloader.persistent_workers={workers > 0}',
                  'default_hooks.checkpoint.interval=2'))
        assert code == 0, output[-3000:]
        runs[workers] = work / 'epoch_2.pth'
    assert '/loop_state/rng/0/torch' in assert_same_run(runs[2], runs[0])


WRONG_ARCHITECTURE = {
    'train.py load_from':
    lambda ckpt, tmp: ('train.py', MOCO, '--work-dir', tmp / 'w',
                       *opts(f'load_from={ckpt}', 'model.backbone.depth=34')),
    'knn.py':
    lambda ckpt, tmp: ('benchmarks/classification/knn.py', MOCO, ckpt,
                       '--work-dir', tmp / 'w', '--cfg-options', *VAL_TINY,
                       'model.backbone.depth=34'),
    'feature_quality.py':
    lambda ckpt, tmp: ('analysis/feature_quality.py', MOCO, '--checkpoint',
                       f'x={ckpt}', '--cfg-options', *VAL_TINY,
                       'model.backbone.depth=34'),
    'vis_hard_examples.py':
    lambda ckpt, tmp: ('visualization/vis_hard_examples.py',
                       CONFIGS['hexa_mocov2'], '--checkpoint', ckpt, '--out',
                       tmp / 'x.png', '--batch', 4, '--num', 2,
                       '--cfg-options', *DIGITS_TINY,
                       'model.backbone.depth=34'),
}


@pytest.mark.parametrize('tool', list(WRONG_ARCHITECTURE))
def test_a_checkpoint_of_another_backbone_is_refused(
        tool: str, good: dict, tmp_path: Path, monkeypatch, capsys) -> None:
    # a ResNet-18 checkpoint for a ResNet-34 config
    ckpt = good['dir'] / 'epoch_1.pth'
    code, output = run_tool(monkeypatch, capsys,
                            *WRONG_ARCHITECTURE[tool](ckpt, tmp_path))
    errors = [line for line in output.splitlines() if 'error:' in line]
    assert code == 2 and len(errors) == 1, output[-3000:]
    # layer1 has 2 blocks in a ResNet-18, 3 in a ResNet-34
    assert re.match(
        f'error: checkpoint {re.escape(str(ckpt))} does not fit the backbone '
        r'\(backbone\.\*\): \d+ keys missing \(backbone\.layer1\.2\.',
        errors[0]), errors[0]
    assert not (tmp_path / 'x.png').exists()
