"""Every command of the top README, walked here on the digits (or run up to
the error it must give: no ImageNet, VOC or Slurm here), with its exit status
and its first ``error:`` line checked.

``test_every_readme_command_is_walked`` fails when the README gains a
command that :data:`WALKS` does not cover.

The shell tools run for real (bash, hexa_mm's launcher) with a ``PYTHON``
that forks their Python tools, torchrun and workers from a preloaded server
(:func:`forkrun.python_env`); the Python commands are forked too
(:func:`forkrun.run_python`).
"""
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Dict, List, NamedTuple

import pytest
import torch

from forkrun import python_env, run_python

ROOT = Path(__file__).resolve().parents[1]
DIGITS = str(ROOT / 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py')
CLASSIFICATION_IN1K = str(ROOT / 'configs/benchmarks/classification/imagenet/'
                          'resnet50_linear-8xb32-steplr-100e_in1k.py')
DETECTION_VOC = str(ROOT / 'configs/benchmarks/mmdetection/voc0712/'
                    'faster-rcnn_r50-c4_ms-24k_voc0712.py')
SEGMENTATION_VOC = str(ROOT / 'configs/benchmarks/mmsegmentation/voc12aug/'
                       'fcn_r50-d8_4xb4-20k_voc12aug-512x512.py')
# The launches the README makes with 8 (or 4) processes, walked with 1: each
# worker ends with the same error whatever the count, and the launcher
# reports it once for any count (tools/dist_train.sh, which the benchmark
# launchers run, with 3 processes: tests/test_tools/test_launchers.py); each
# process more is a cold start of several seconds. The README's runs of
# several processes train in digits_run (2 processes) and the NNODES walk.
PROCESSES = '1'
# the demo's runs (tools/demo.sh OPTIONS): 2 iterations of batch 64 an epoch
DEMO_TINY = ('train_dataloader.dataset.indices=128',
             'val_dataloader.dataset.bank.indices=256',
             'val_dataloader.dataset.query.indices=64')


class Outcome(NamedTuple):
    """What a walked command did."""
    status: int
    stdout: str
    stderr: str


class Case(NamedTuple):
    """How to walk a README command, and what it must do.

    ``run(ctx)`` runs it and returns its :class:`Outcome`; ``status`` is the
    exit status it must end with; ``expect`` must be in its standard output
    (status 0) or in its one ``error:`` line (status 2); ``check(ctx, out)``
    checks anything else.
    """
    run: Callable[['Context'], Outcome]
    status: int
    expect: str
    check: Callable[['Context', Outcome], None] = lambda ctx, out: None


class Context(NamedTuple):
    """What the walks share: a scratch folder (the working directory, so
    relative data roots point at nothing), the environment, the digits
    options, a 2-epoch digits run of 2 processes, and the options of a tool
    that reads its checkpoints."""
    cwd: Path
    env: Dict[str, str]
    tiny: List[str]
    run_dir: Path
    tiny_eval: List[str]

    def tool(self,
             *args: str,
             env: Dict[str, str] = None,
             cwd: Path = None) -> Outcome:
        """Run a command in the scratch folder (or ``cwd``)."""
        proc = subprocess.run([str(arg) for arg in args],
                              cwd=cwd or self.cwd,
                              env=dict(self.env, **(env or {})),
                              capture_output=True,
                              text=True,
                              timeout=900)
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    def python(self,
               script: str,
               *args: str,
               env: Dict[str, str] = None,
               cwd: Path = None) -> Outcome:
        """Run one of the repository's Python tools, forked from the
        preloaded server (:func:`forkrun.run_python`)."""
        proc = run_python([ROOT / script, *args],
                          env=dict(self.env, **(env or {})),
                          cwd=cwd or self.cwd)
        return Outcome(proc.returncode, proc.stdout, proc.stderr)

    def bash(self, script: str, *args: str, **kwargs) -> Outcome:
        """Run one of the repository's shell tools."""
        return self.tool('bash', ROOT / script, *args, **kwargs)

    @property
    def checkpoint(self) -> Path:
        """The digits run's epoch-1 checkpoint."""
        return self.run_dir / 'epoch_1.pth'

    def backbone(self) -> Path:
        """The digits run's backbone, extracted once."""
        path = self.cwd / 'backbone.pth'
        if not path.is_file():
            out = self.python(
                'tools/model_converters/extract_backbone_weights.py',
                self.checkpoint, path)
            assert out.status == 0, out.stderr[-3000:]
        return path


def _demo(ctx: Context) -> Outcome:
    """``make demo``'s script: one seed, one epoch per network of 2
    iterations (128 images), a kNN check on 256 + 64 images."""
    return ctx.bash('tools/demo.sh',
                    env=dict(SEEDS='0',
                             EPOCHS='1',
                             OPTIONS=' '.join(DEMO_TINY),
                             WORK=str(ctx.cwd / 'demo')))


def _in1k_pretraining(ctx: Context) -> Outcome:
    """8 processes on ImageNet, which is not here."""
    return ctx.bash(
        'tools/dist_train.sh',
        ROOT / 'configs/mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py',
        PROCESSES)


def _train(ctx: Context, *args: str, epochs: int = 1) -> Outcome:
    """``tools/train.py`` on the digits, a few iterations."""
    return ctx.python('tools/train.py', DIGITS, *args, '--cfg-options',
                      *ctx.tiny, f'train_cfg.max_epochs={epochs}')


def _train_default_work_dir(ctx: Context) -> Outcome:
    return _train(ctx)


def _saved_in_default_work_dir(ctx: Context, out: Outcome) -> None:
    assert (ctx.cwd / 'work_dirs' / Path(DIGITS).stem /
            'epoch_1.pth').is_file()


def _resume_latest(ctx: Context) -> Outcome:
    """``--resume`` in the default work dir, which holds epoch 1."""
    work = ctx.cwd / 'work_dirs' / Path(DIGITS).stem
    shutil.copytree(ctx.run_dir, work)
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    return _train(ctx, '--resume', epochs=2)


def _resume_from(ctx: Context) -> Outcome:
    return _train(
        ctx,
        '--resume',
        str(ctx.checkpoint),
        '--work-dir',
        str(ctx.cwd / 'resumed'),
        epochs=2)


def _overrides(ctx: Context) -> Outcome:
    """The README's overrides, then one epoch instead of 100."""
    return ctx.python('tools/train.py', DIGITS, '--work-dir',
                      ctx.cwd / 'overrides', '--cfg-options', *ctx.tiny,
                      'model.queue_len=16384', 'train_cfg.max_epochs=100',
                      'train_cfg.max_epochs=1')


def _queue_len_dumped(ctx: Context, out: Outcome) -> None:
    dumped = ctx.cwd / 'overrides' / Path(DIGITS).name
    assert 'queue_len=16384' in dumped.read_text()


def _multi_node(ctx: Context) -> Outcome:
    """Two nodes of one process each, both on this machine."""
    procs = [
        subprocess.Popen([
            'bash',
            str(ROOT / 'tools/dist_train.sh'), DIGITS, '1', '--work-dir',
            str(ctx.cwd / 'multi_node'), '--cfg-options', *ctx.tiny,
            'train_cfg.max_epochs=1'
        ],
                         cwd=ctx.cwd,
                         env=dict(
                             ctx.env,
                             NNODES='2',
                             NODE_RANK=str(rank),
                             MASTER_ADDR='127.0.0.1'),
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         text=True) for rank in range(2)
    ]
    outputs = [proc.communicate(timeout=900) for proc in procs]
    return Outcome(
        max(proc.returncode for proc in procs),
        ''.join(out for out, _ in outputs), ''.join(err for _, err in outputs))


def _world_of_two(ctx: Context, out: Outcome) -> None:
    assert 'GPU number: 2' in out.stdout + out.stderr  # the world size


def _slurm(ctx: Context) -> Outcome:
    if shutil.which('srun', path=ctx.env['PATH']):
        pytest.skip('a real Slurm is here: tests/test_tools/'
                    'test_launchers.py walks slurm_train.sh with a fake srun')
    return ctx.bash(
        'tools/slurm_train.sh',
        'PARTITION',
        'JOB',
        DIGITS,
        'work_dirs/JOB',
        env=dict(GPUS='16'))


def _knn(ctx: Context) -> Outcome:
    return ctx.python('tools/benchmarks/classification/knn.py', DIGITS,
                      ctx.checkpoint, '--cfg-options', *ctx.tiny_eval)


def _knn_as_online(ctx: Context, out: Outcome) -> None:
    """knn.py scores the epoch-1 network as the 2-process monitor did after
    epoch 1."""
    log = (ctx.run_dir / 'output.log').read_text()
    online = float(log.split('knn/top1:', 2)[1].split()[0])
    assert out.stdout.strip().endswith(f' top-1: {online:.2f}')


def _feature_quality(ctx: Context) -> Outcome:
    return ctx.python('tools/analysis/feature_quality.py', DIGITS,
                      '--checkpoint', f'MoCo-v2={ctx.checkpoint}',
                      '--cfg-options', *ctx.tiny_eval)


def _extract(ctx: Context) -> Outcome:
    return ctx.python('tools/model_converters/extract_backbone_weights.py',
                      ctx.checkpoint, ctx.cwd / 'extracted.pth')


def _needs(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f'{module} is installed by make install-full')


def _classification(ctx: Context) -> Outcome:
    return ctx.bash('tools/benchmarks/classification/dist_train.sh',
                    CLASSIFICATION_IN1K, ctx.backbone(), PROCESSES)


def _detection(ctx: Context) -> Outcome:
    _needs('mmdet')
    return ctx.bash('tools/benchmarks/mmdetection/dist_train.sh',
                    DETECTION_VOC, ctx.backbone(), PROCESSES)


def _segmentation(ctx: Context) -> Outcome:
    _needs('mmseg')
    return ctx.bash('tools/benchmarks/mmsegmentation/dist_train.sh',
                    SEGMENTATION_VOC, ctx.backbone(), PROCESSES)


def _no_validate(ctx: Context) -> Outcome:
    return _train(ctx, '--no-validate', '--work-dir',
                  str(ctx.cwd / 'no_validate'))


def _not_validated(ctx: Context, out: Outcome) -> None:
    assert 'knn/top1' not in out.stdout + out.stderr


def _auto_scale_lr(ctx: Context) -> Outcome:
    return _train(ctx, '--auto-scale-lr', '--work-dir', str(ctx.cwd / 'lr'))


def _native_bfloat16() -> bool:
    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _amp(ctx: Context) -> Outcome:
    if torch.cuda.is_available():
        pytest.skip('--amp with CUDA is mmengine\'s AmpOptimWrapper')
    return _train(ctx, '--amp', '--work-dir', str(ctx.cwd / 'amp'))


def _missing_data(ctx: Context) -> Outcome:
    return ctx.python(
        'tools/train.py',
        ROOT / 'configs/mocov2/mocov2_resnet18-cifar_8xb32-coslr-200e_'
        'cifar10.py', '--work-dir', ctx.cwd / 'bad')


def _bad_queue(ctx: Context) -> Outcome:
    return ctx.bash('tools/dist_train.sh', DIGITS, PROCESSES, '--work-dir',
                    ctx.cwd / 'bad', '--cfg-options', *ctx.tiny,
                    'model.queue_len=60')


def _unsafe_checkpoint(ctx: Context) -> Outcome:
    evil = ctx.cwd / 'evil.pth'
    torch.save({'state_dict': {}, 'x': Context}, evil)
    return _train(ctx, '--resume', str(evil), '--work-dir',
                  str(ctx.cwd / 'bad'))


def _empty_init_cfg(ctx: Context) -> Outcome:
    return ctx.python(
        'tools/train.py', ROOT / 'configs/benchmarks/classification/digits/'
        'resnet18_linear-2xb64-steplr-10e_digits.py', '--work-dir',
        ctx.cwd / 'bad')


def _nothing_saved(ctx: Context, out: Outcome) -> None:
    assert not list((ctx.cwd / 'bad').glob('*.pth'))


def _kmeans_benchmark(ctx: Context) -> Outcome:
    """At a small size: the README's default is minutes of CPU."""
    return ctx.python('tools/analysis/benchmark_kmeans.py', '--num-samples',
                      '2000', '--clusters', '50', '--sets', '1', '--iters',
                      '2', '--repeats', '1')


def _mocov2_step_benchmark(ctx: Context) -> Outcome:
    return ctx.python('tools/analysis/benchmark_mocov2_step.py', '--batch',
                      '4', '--size', '32', '--queue', '64', '--repeats', '1',
                      '--warmup', '0')


def _hexa_step_benchmark(ctx: Context) -> Outcome:
    """From the repository root: its default config is a relative path."""
    return ctx.python(
        'tools/analysis/benchmark_hexa_step.py',
        '--batch',
        '4',
        '--repeats',
        '1',
        '--warmup',
        '0',
        cwd=ROOT)


def _gpu_check(ctx: Context) -> Outcome:
    if torch.cuda.is_available():
        pytest.skip('a GPU is here: the check would run for minutes')
    return ctx.bash('tools/analysis/gpu_check.sh')


DATA_MISSING = "split 'train' data/imagenet/train does not exist"
SAVED = 'Saving checkpoint at 1 epochs'
# The README's commands (each line of its bash blocks), then the options and
# bad inputs its prose documents.
WALKS: Dict[str, Case] = {
    'make demo':
    Case(_demo, 0, 'demo finished'),
    'bash tools/dist_train.sh configs/mocov2/'
    'mocov2_resnet50_8xb32-coslr-200e_in1k.py 8':
    Case(_in1k_pretraining, 2, DATA_MISSING),
    'python tools/train.py configs/mocov2/'
    'mocov2_resnet18_2xb64-coslr-30e_digits.py':
    Case(_train_default_work_dir, 0, SAVED, _saved_in_default_work_dir),
    'python tools/train.py CONFIG --resume':
    Case(_resume_latest, 0, 'resumed epoch: 1'),
    'python tools/train.py CONFIG --resume work_dirs/NAME/epoch_10.pth':
    Case(_resume_from, 0, 'resumed epoch: 1'),
    'python tools/train.py CONFIG --cfg-options model.queue_len=16384 '
    'train_cfg.max_epochs=100':
    Case(_overrides, 0, SAVED, _queue_len_dumped),
    'NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash '
    'tools/dist_train.sh CONFIG 8':
    Case(_multi_node, 0, SAVED, _world_of_two),
    'GPUS=16 bash tools/slurm_train.sh PARTITION JOB CONFIG work_dirs/JOB':
    Case(_slurm, 2, 'srun not found'),
    'python tools/benchmarks/classification/knn.py CONFIG CHECKPOINT':
    Case(_knn, 0, 'kNN (k=200, T=0.07) top-1: ', _knn_as_online),
    'python tools/analysis/feature_quality.py CONFIG --checkpoint NAME=CKPT':
    Case(_feature_quality, 0, 'random init'),
    'python tools/model_converters/extract_backbone_weights.py '
    'work_dirs/NAME/epoch_200.pth backbone.pth':
    Case(_extract, 0, 'wrote '),
    'bash tools/benchmarks/classification/dist_train.sh configs/benchmarks/'
    'classification/imagenet/resnet50_linear-8xb32-steplr-100e_in1k.py '
    'backbone.pth 8':
    Case(_classification, 2, DATA_MISSING),
    'bash tools/benchmarks/mmdetection/dist_train.sh configs/benchmarks/'
    'mmdetection/voc0712/faster-rcnn_r50-c4_ms-24k_voc0712.py backbone.pth 8':
    Case(_detection, 2, 'does not exist'),
    'bash tools/benchmarks/mmsegmentation/dist_train.sh configs/benchmarks/'
    'mmsegmentation/voc12aug/fcn_r50-d8_4xb4-20k_voc12aug-512x512.py '
    'backbone.pth 4':
    Case(_segmentation, 2, 'does not exist'),
    '--no-validate':
    Case(_no_validate, 0, SAVED, _not_validated),
    '--auto-scale-lr':
    Case(
        _auto_scale_lr, 0, 'LR is set based on batch size of 128 and the '
        'current batch size is 8. Scaling the original LR by 0.0625'),
    '--amp':
    Case(_amp, 0, SAVED) if _native_bfloat16() else Case(
        _amp, 2, 'no native bfloat16'),
    'bad input: missing data':
    Case(_missing_data, 2, 'CIFAR10: ', _nothing_saved),
    'bad input: queue length':
    Case(_bad_queue, 2,
         'queue_len=60 is not a multiple of the global batch size 8',
         _nothing_saved),
    'bad input: unsafe checkpoint':
    Case(_unsafe_checkpoint, 2, 'not-allow-listed global', _nothing_saved),
    'python tools/analysis/benchmark_kmeans.py':
    Case(_kmeans_benchmark, 0, 'assignments'),
    'python tools/analysis/benchmark_mocov2_step.py':
    Case(_mocov2_step_benchmark, 0, 'ratio'),
    'python tools/analysis/benchmark_hexa_step.py':
    Case(_hexa_step_benchmark, 0, 'HEXA'),
    'bash tools/analysis/gpu_check.sh':
    Case(_gpu_check, 2, 'no CUDA device; use --dry-run'),
    'bad input: empty init_cfg':
    Case(_empty_init_cfg, 2, 'model.backbone.init_cfg.checkpoint is empty',
         _nothing_saved),
}
# Not walked here, and why.
NOT_WALKED = {
    'make test':
    'runs this suite',
    'bash tools/analysis/download_gpu_wheels.sh':
    'downloads from PyPI',
    'bash tools/analysis/gpu_check.sh --dry-run':
    'tests/test_tools/test_analysis_tools.py runs it',
    'python tools/analysis/benchmark_deepcluster_overhead.py':
    'tests/test_tools/test_analysis_tools.py runs it on the digits (its '
    'default is ImageNet)',
}


def readme_commands() -> List[str]:
    """The commands of the README's bash blocks, one per line, comments
    dropped."""
    text = (ROOT / 'README.md').read_text()
    commands = []
    for block in re.findall(r'```bash\n(.*?)```', text, re.S):
        for line in block.splitlines():
            command = re.sub(r'(^|\s)#.*', '', line).strip()
            if command:
                commands.append(command)
    return commands


def test_every_readme_command_is_walked() -> None:
    commands = readme_commands()
    assert commands, 'no bash block in README.md'
    missing = set(commands) - set(WALKS) - set(NOT_WALKED)
    assert not missing, f'README commands without a walk: {missing}'


@pytest.mark.integration
@pytest.mark.parametrize('command', list(WALKS))
def test_readme_command(command: str, tmp_path: Path, tool_env: dict,
                        tiny_options: List[str], digits_run: Path,
                        tiny_eval_options: List[str]) -> None:
    case = WALKS[command]
    ctx = Context(tmp_path, python_env(tool_env), tiny_options, digits_run,
                  tiny_eval_options)
    out = case.run(ctx)
    report = json.dumps(
        dict(
            status=out.status,
            stdout=out.stdout[-2000:],
            stderr=out.stderr[-2000:]),
        indent=1)
    assert out.status == case.status, report
    errors = [
        line for line in out.stderr.splitlines() if line.startswith('error: ')
    ]
    if case.status == 2:
        assert len(errors) == 1, report
        assert case.expect in errors[0], report
        assert 'Traceback' not in out.stderr, report
    else:
        assert not errors, report
        assert case.expect in out.stdout + out.stderr, report
    case.check(ctx, out)
