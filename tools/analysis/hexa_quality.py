"""HEXA's representation quality on the embedded digits: the study.

    python tools/analysis/hexa_quality.py --quick | --full
        [--studies main wallclock sweep] [--variants NAME ...]
        [--seeds 0 1 2] [--epochs E] [--sweep-seeds 0] [--sweep-epochs E]
        [--images N] [--jobs 2] [--reuse RESULTS_JSON]
        [--time-ratio deepclusterv2=R mocov2=R]
        [--out work_dirs/hexa_quality]

Pre-trains each variant once per seed (in worker processes, one thread
each, no DDP: the global batch is the config's batch) and measures the
backbone features, with the labelled train split as the bank:

* kNN top-1 with all train labels (weighted, k=200, T=0.07);
* 5-shot: nearest class mean with 5 labelled train images per class, mean
  over 20 seeded draws (the same draws for every variant).

The protocol cannot choose on what it reports: every run is measured on
the val split; only the ``main`` and ``wallclock`` studies, which train the
configs' settings as they are, are also measured on the test split. Choose
settings from the ``sweep`` (val) and write them into the configs; then
report the test columns once. Studies:

* ``main``: MoCo-v2, HEXA_MoCo, each of its generators alone,
  DeepCluster-v2 and HEXA_DCluster, all at the configs' epochs, with a val
  curve (kNN, 5-shot every ``--curve-every`` epochs);
* ``wallclock``: each base algorithm trained for as many epochs as take it
  the time its HEXA version took (the ratio of the ``main`` rows' times, or
  ``--time-ratio`` measured side by side when those rows were trained under
  different loads);
* ``sweep``: HEXA's open settings on val, for HEXA_MoCo: ε ∈ {1, 2, 4,
  8}/255 × steps ∈ {1, 3} (adversarial views alone), ``aux_norm``, CutMix
  ``prob`` and ``weight``, both weights halved; for HEXA_DCluster, which
  views are made hard (the first assignment crop only, or both; MoCo-v2
  predicts only its query view). Each base is trained again beside the
  sweep, with the sweep's seeds and epochs, and every sweep row is paired
  with it. ``--full`` runs the sweep with one seed at 10 epochs (the main
  and wallclock studies with seeds 0 1 2 at the configs' epochs): on 2 CPU
  cores the sweep at 3 seeds and 40 epochs alone would take about 3 hours.
  HEXA_DCluster's generators alone are part of the sweep for the same
  reason (a HEXA_DCluster epoch costs about 4 DeepCluster-v2 epochs).

Baselines: raw pixels, and the network at random initialisation (per seed).
The table gives mean ± std over seeds and, for each HEXA variant, the paired
difference to its base (same seed) with a 95 % Student-t interval. Written
to ``--out``: ``results.json`` (every run, curve, logged loss term, the
configs, the machine load) and ``curves.png`` (kNN and 5-shot on val
against epoch). Each run (and the baselines) is also appended to
``runs.jsonl`` in ``--out`` as soon as it ends; a study stopped before it
wrote ``results.json`` (a kill, a crash, a full disk) carries them over when
started again with the same ``--out``, and ``results.json`` replaces the
previous one only once it is whole. ``--reuse`` carries over the runs and
baselines of an earlier ``results.json`` whose keys (config values, seeds,
measurements) match. ``--quick`` (MoCo-v2 and HEXA_MoCo, 2 seeds, 2 epochs on
256 images) checks the whole path in minutes; its numbers are not results.
"""
import argparse
import copy
import functools
import hashlib
import json
import os
import os.path as osp
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from hexa_mm import register_all_modules
from hexa_mm.engine.schedule import set_max_epochs
from hexa_mm.evaluation import (mean_std, measure_representation,
                                paired_difference)
from hexa_mm.registry import MODELS, RUNNERS
from hexa_mm.utils import ConfigError, tool_main
from hexa_mm.utils.atomic import atomic_path
from hexa_mm.utils.gc_freeze import freeze_imported_objects

MOCO = 'configs/mocov2/mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py'
HEXA_MOCO = ('configs/hexa_mocov2/'
             'hexa-mocov2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py')
DCLUSTER = ('configs/deepclusterv2/'
            'deepclusterv2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py')
HEXA_DCLUSTER = (
    'configs/hexa_deepclusterv2/'
    'hexa-deepclusterv2_resnet18-cifar-w16_1xb64-coslr-40e_digits16.py')
SHOTS, DRAWS = 5, 20
#: In ``--out``: each finished run, appended as it ends (see run_jobs)
JOURNAL = 'runs.jsonl'
KNN = dict(k=200, temperature=0.07)
#: How run_jobs starts its workers (fresh interpreters: no state inherited)
START_METHOD = 'spawn'


def variant(config: str,
            base: Optional[str] = None,
            keep: Optional[Sequence[str]] = None,
            hooks: Optional[Sequence[dict]] = None,
            **changes: dict) -> dict:
    """A variant: a config, the generators it keeps and changes to them.

    Args:
        config (str): The config file.
        base (str, optional): The variant it is paired with (its base
            algorithm); None for a base.
        keep (Sequence[str], optional): Names of the generators kept;
            None keeps the config's.
        hooks (Sequence[dict], optional): The ``custom_hooks`` in place
            of the config's; None keeps the config's.
        **changes (dict): Per generator name, fields to set.

    Returns:
        dict: The variant.
    """
    return dict(
        config=config,
        base=base,
        keep=keep,
        hooks=None if hooks is None else list(hooks),
        changes=changes)


def adversarial(eps: int, steps: int) -> dict:
    """Settings of an L∞ attack of ``eps``/255 in ``steps`` steps.

    Steps of 2.5 ε / steps (Madry et al. 2018), so that one step is the
    fast-gradient-sign step of size ε once projected.

    Args:
        eps (int): The bound in grey levels (of 255).
        steps (int): Ascent steps.

    Returns:
        dict: ``eps``, ``step_size`` and ``steps`` in pixel units.
    """
    return dict(
        eps=eps / 255, step_size=min(eps, 2.5 * eps / steps) / 255,
        steps=steps)


MAIN = {
    'mocov2': variant(MOCO),
    'hexa-mocov2': variant(HEXA_MOCO, 'mocov2'),
    'hexa-mocov2-cutmix': variant(HEXA_MOCO, 'mocov2', keep=['cutmix']),
    'hexa-mocov2-adv': variant(HEXA_MOCO, 'mocov2', keep=['adv']),
    # the config ramps the hard-example losses in over 10 epochs
    'hexa-mocov2-no-warmup': variant(HEXA_MOCO, 'mocov2', hooks=[]),
    'deepclusterv2': variant(DCLUSTER),
    'hexa-deepclusterv2': variant(HEXA_DCLUSTER, 'deepclusterv2'),
}
SWEEP = {
    **{
        f'moco-adv-eps{e}-steps{s}': variant(
            HEXA_MOCO, 'mocov2', keep=['adv'], adv=adversarial(e, s))
        for s in (1, 3) for e in (1, 2, 4, 8)
    },
    'moco-adv-auxnorm':
    variant(HEXA_MOCO, 'mocov2', keep=['adv'], adv=dict(aux_norm=True)),
    'moco-cutmix-prob0.5':
    variant(HEXA_MOCO, 'mocov2', keep=['cutmix'], cutmix=dict(prob=0.5)),
    'moco-cutmix-weight0.5':
    variant(HEXA_MOCO, 'mocov2', keep=['cutmix'], cutmix=dict(weight=0.5)),
    'moco-cutmix-weight2':
    variant(HEXA_MOCO, 'mocov2', keep=['cutmix'], cutmix=dict(weight=2.0)),
    'moco-hexa-weights0.5':
    variant(
        HEXA_MOCO,
        'mocov2',
        cutmix=dict(weight=0.5),
        adv=dict(weight=0.5)),
    'dcluster-cutmix':
    variant(HEXA_DCLUSTER, 'deepclusterv2', keep=['cutmix']),
    'dcluster-adv':
    variant(HEXA_DCLUSTER, 'deepclusterv2', keep=['adv']),
    # MoCo-v2 predicts one view (the query); DeepCluster-v2 two
    'dcluster-hexa-view0':
    variant(
        HEXA_DCLUSTER,
        'deepclusterv2',
        cutmix=dict(view_indices=[0]),
        adv=dict(view_indices=[0])),
}
#: the base of each HEXA algorithm, and the variant giving its time
WALLCLOCK = {'mocov2': 'hexa-mocov2', 'deepclusterv2': 'hexa-deepclusterv2'}
QUICK = ['mocov2', 'hexa-mocov2']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        '--quick',
        action='store_true',
        help='MoCo-v2 and HEXA_MoCo, seeds 0 1, 2 epochs, 256 images: '
        'checks the path, gives no result')
    mode.add_argument(
        '--full',
        action='store_true',
        help='every study: main and wallclock with seeds 0 1 2 at the '
        "configs' epochs, the sweep with seed 0 at 10 epochs (sized for "
        '2 CPU cores)')
    parser.add_argument(
        '--studies',
        nargs='+',
        choices=['main', 'wallclock', 'sweep'],
        default=['main'],
        help='default: main')
    parser.add_argument(
        '--variants',
        nargs='+',
        default=None,
        help=f'only these variants (of {", ".join(MAIN)} and the sweep\'s)')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--sweep-seeds',
        nargs='+',
        type=int,
        default=None,
        help='seeds of the sweep (default: --seeds; --full: 0)')
    parser.add_argument(
        '--sweep-epochs',
        type=int,
        default=None,
        help='epochs of the sweep and of the bases it is paired with '
        '(default: --epochs; --full: 10)')
    parser.add_argument(
        '--epochs',
        type=int,
        default=None,
        help="pre-training epochs (default: the configs')")
    parser.add_argument(
        '--images',
        type=int,
        default=None,
        help='pre-train on the first N train images (default: all)')
    parser.add_argument(
        '--curve-every',
        type=int,
        default=5,
        help='epochs between the val points of the curves (main study)')
    parser.add_argument(
        '--time-ratio',
        nargs='+',
        default=None,
        metavar='BASE=R',
        help='wallclock study: the HEXA version of BASE costs R epochs of '
        'BASE per epoch (measured side by side), instead of the ratio of '
        "the main rows' training times")
    parser.add_argument(
        '--jobs',
        type=int,
        default=2,
        help='runs trained at once, one thread each (default: 2)')
    parser.add_argument(
        '--out',
        default='work_dirs/hexa_quality',
        help='folder of results.json and curves.png')
    parser.add_argument(
        '--reuse',
        default=None,
        metavar='RESULTS_JSON',
        help='take the runs an earlier results.json already holds (same '
        'config text, seed and measurements) instead of training them again')
    args = parser.parse_args(argv)
    if args.quick:
        args.studies, args.seeds = ['main'], [0, 1]
        args.epochs, args.images, args.curve_every = 2, 256, 1
        args.variants = args.variants or QUICK
    elif args.full:
        args.studies = ['main', 'wallclock', 'sweep']
        args.sweep_seeds = args.sweep_seeds or [0]
        args.sweep_epochs = args.sweep_epochs or 10
    if args.sweep_seeds is None:
        args.sweep_seeds = args.seeds
    if args.sweep_epochs is None:
        args.sweep_epochs = args.epochs
    return args


def check_args(args: argparse.Namespace) -> None:
    """Refuse variants that do not exist and counts below 1.

    Args:
        args (argparse.Namespace): The arguments.
    """
    known = set(MAIN) | set(SWEEP)
    unknown = sorted(set(args.variants or []) - known)
    if unknown:
        raise ConfigError(f'unknown variants {unknown}; choose from '
                          f'{", ".join(sorted(known))}.')
    for flag in ('jobs', 'epochs', 'sweep_epochs', 'images', 'curve_every'):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise ConfigError(f'--{flag.replace("_", "-")}={value} must be '
                              '>= 1.')
    parse_ratios(args.time_ratio)


def build_cfg(spec: dict, epochs: Optional[int],
              images: Optional[int]) -> Config:
    """The pre-training config of a variant.

    Args:
        spec (dict): A :func:`variant`.
        epochs (int, optional): Epochs; None keeps the config's.
        images (int, optional): Train on the first ``images`` images.

    Returns:
        Config: The config, with the val loop as the curve's monitor and
        no checkpoints.
    """
    if not osp.isfile(spec['config']):
        raise ConfigError(f'config {spec["config"]} not found; run from the '
                          'repository root.')
    cfg = Config.fromfile(spec['config'])
    generators = cfg.model.get('hard_examples') or []
    names = [g['name'] for g in generators]
    for name in list(spec['keep'] or []) + list(spec['changes']):
        if name not in names:
            raise ConfigError(f'{spec["config"]} has no generator {name!r} '
                              f'(it has {names}).')
    if spec['keep'] is not None:
        generators = [g for g in generators if g['name'] in spec['keep']]
    for generator in generators:
        generator.update(spec['changes'].get(generator['name'], {}))
    cfg.model.hard_examples = generators
    if spec.get('hooks') is not None:
        cfg.custom_hooks = spec['hooks']
    if epochs is not None:
        set_max_epochs(cfg, epochs)
    if images is not None:
        cfg.train_dataloader.dataset.indices = images
    cfg.log_level = 'WARNING'
    cfg.default_hooks.checkpoint = None
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=10**6)
    cfg.visualizer = dict(type='Visualizer', vis_backends=[])
    return cfg


class Recorder(Hook):
    """Keeps the val metrics after each val epoch and the mean of every
    logged training term over each epoch."""

    priority = 'LOWEST'

    def __init__(self) -> None:
        self.curve: List[dict] = []
        self.terms: List[dict] = []
        self._sums: Dict[str, float] = {}
        self._count = 0

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """Add the step's logged terms to the epoch's sums."""
        for key, value in (outputs or {}).items():
            value = float(value.detach() if torch.is_tensor(value) else value)
            self._sums[key] = self._sums.get(key, 0.0) + value
        self._count += 1

    def after_train_epoch(self, runner) -> None:
        """Close the epoch's means."""
        self.terms.append(
            dict(
                epoch=runner.epoch + 1,
                **{k: v / self._count
                   for k, v in self._sums.items()}))
        self._sums, self._count = {}, 0

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Keep the val metrics of this epoch."""
        self.curve.append(
            dict(
                epoch=runner.epoch,
                knn=float(metrics['knn/top1']),
                few_shot=float(metrics[f'few_shot/{SHOTS}-shot'])))


def eval_loader(cfg: Config, split: str):
    """Loader of the train split (bank) followed by ``split`` (queries).

    Args:
        cfg (Config): A pre-training config whose ``val_dataloader`` is a
            ``KNNDataset`` of the digits.
        split (str): ``'val'`` or ``'test'``.

    Returns:
        DataLoader: The loader.
    """
    loader = copy.deepcopy(cfg.val_dataloader)
    loader.dataset.query.split = split
    return Runner.build_dataloader(loader)


def measure(model: torch.nn.Module, loader,
            pixels: bool = False) -> Dict[str, float]:
    """The study's kNN and 5-shot accuracies of one representation.

    Args:
        model (nn.Module): The algorithm (its preprocessor is always used).
        loader (DataLoader): Loader of the ``KNNDataset`` (bank, queries).
        pixels (bool): Measure the normalised pixels instead.

    Returns:
        dict[str, float]: ``knn`` and ``few_shot`` accuracies in percent.
    """
    return measure_representation(
        model, loader, pixels=pixels, knn=KNN, shots=SHOTS, draws=DRAWS)


def quiet() -> None:
    """One thread, hexa_mm's registries, no INFO logs, and the imports
    out of later garbage collections in this process."""
    torch.set_num_threads(1)
    register_all_modules()
    MMLogger.get_instance('hexa_quality', log_level='WARNING')
    freeze_imported_objects()


def train_and_measure(job: dict) -> dict:
    """Pre-train one variant with one seed and measure it (a worker).

    Args:
        job (dict): ``name``, ``spec`` (a :func:`variant`), ``seed``,
            ``epochs``, ``images``, ``curve_every`` and ``splits``.

    Returns:
        dict: ``train_s``, the curve, the logged terms per epoch and one
        measurement per split.
    """
    quiet()
    cfg = build_cfg(job['spec'], job['epochs'], job['images'])
    cfg.randomness = dict(seed=job['seed'])
    for hook in cfg.get('custom_hooks', []):
        if hook['type'] == 'DeepClusterHook':  # no bar among the results
            hook['progress'] = False
    cfg.train_cfg.val_interval = job['curve_every']
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        cfg.experiment_name = f'{job["name"]}-{job["seed"]}-{time.time_ns()}'
        runner = RUNNERS.build(cfg)
        recorder = Recorder()
        runner.register_hook(recorder)
        start = time.perf_counter()
        runner.train()
        seconds = time.perf_counter() - start
        scores = {
            split: measure(runner.model, eval_loader(cfg, split))
            for split in job['splits']
        }
    return dict(
        name=job['name'],
        key=job['key'],
        seed=job['seed'],
        epochs=cfg.train_cfg.max_epochs,
        train_s=seconds,
        curve=recorder.curve,
        terms=recorder.terms,
        **scores)


def baselines(seeds: Sequence[int]) -> Dict[str, List[dict]]:
    """Raw pixels and the MoCo-v2 network at random initialisation.

    Args:
        seeds (Sequence[int]): One random network per seed.

    Returns:
        dict: Per row, one result per seed (one for raw pixels), each with
        a measurement per split.
    """
    quiet()
    cfg = Config.fromfile(MOCO)
    loaders = {split: eval_loader(cfg, split) for split in ('val', 'test')}
    rows: Dict[str, List[dict]] = {'raw pixels': [], 'random init': []}
    model = MODELS.build(cfg.model)
    rows['raw pixels'].append(
        dict(
            seed=None, **{
                split: measure(model, loader, pixels=True)
                for split, loader in loaders.items()
            }))
    for seed in seeds:
        torch.manual_seed(seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
        rows['random init'].append(
            dict(
                seed=seed,
                **{
                    split: measure(model, loader)
                    for split, loader in loaders.items()
                }))
    return rows


@functools.lru_cache(maxsize=None)
def config_text(path: str) -> str:
    """A config file's full text as mmengine formats it, once a process
    (yapf over a whole config: a third of a second each).

    Args:
        path (str): The config file.

    Returns:
        str: ``Config.fromfile(path).pretty_text``.
    """
    return Config.fromfile(path).pretty_text


def digest(value: object) -> str:
    """A SHA-1 of a JSON-like value, dict keys sorted (what is not JSON
    enters by its ``repr``).

    Args:
        value (object): The value.

    Returns:
        str: The hex digest.
    """
    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha1(text.encode()).hexdigest()


def job_key(job: dict) -> str:
    """What makes a run: its config as trained, seed and measurements.

    Args:
        job (dict): Arguments of :func:`train_and_measure`.

    Returns:
        str: A SHA-1 of the resolved config's values (keys sorted, so a
        config refactored into other files with the same values keeps its
        key), the seed, the splits and the curve interval; equal keys train
        and measure the same thing.
    """
    cfg = build_cfg(job['spec'], job['epochs'], job['images'])
    return digest(
        [cfg.to_dict(), job['seed'], job['splits'], job['curve_every']])


def baselines_key(seeds: Sequence[int]) -> str:
    """What makes the baselines: the MoCo-v2 config they build the network
    and the loaders from, the seeds and the measurements.

    Args:
        seeds (Sequence[int]): The random networks' seeds.

    Returns:
        str: Its :func:`digest`.
    """
    return digest([
        'baselines',
        Config.fromfile(MOCO).to_dict(),
        list(seeds), KNN, SHOTS, DRAWS
    ])


def load_reuse(path: Optional[str]) -> Dict[str, dict]:
    """Finished runs of an earlier ``results.json``, by :func:`job_key`.

    Args:
        path (str, optional): The file; None reuses nothing.

    Returns:
        dict[str, dict]: The runs that carry a key, and the baselines
        (``rows``) under their :func:`baselines_key`.
    """
    if path is None:
        return {}
    if not osp.isfile(path):
        raise ConfigError(f'--reuse {path}: no such file; give the '
                          'results.json of an earlier run.')
    with open(path) as f:
        report = json.load(f)
    runs = [
        r for table in ('runs', 'sweep_runs')
        for rows in report.get(table, {}).values() for r in rows
    ]
    found = {r['key']: r for r in runs if 'key' in r}
    if 'baselines_key' in report:
        key = report['baselines_key']
        found[key] = dict(key=key, rows=report['baselines'])
    return found


def show(res: dict, splits: Sequence[str]) -> None:
    """Print one finished run.

    Args:
        res (dict): A result of :func:`train_and_measure`.
        splits (Sequence[str]): The splits it was measured on.
    """
    scores = '  '.join(f'{split} kNN {res[split]["knn"]:.2f} '
                       f'{SHOTS}-shot {res[split]["few_shot"]:.2f}'
                       for split in splits)
    reused = ', reused' if res.get('reused') else ''
    print(
        f'{res["name"]} seed {res["seed"]} ({res["epochs"]} ep, '
        f'{res["train_s"]:.0f} s{reused}): {scores}',
        flush=True)


def run_jobs(jobs: List[dict],
             workers: int,
             reuse: Optional[Dict[str, dict]] = None,
             journal: Optional[str] = None) -> List[dict]:
    """Run the jobs, ``workers`` at a time, longest first.

    Args:
        jobs (list[dict]): Arguments of :func:`train_and_measure`.
        workers (int): Processes at once.
        reuse (dict[str, dict], optional): Finished runs by
            :func:`job_key`; a job with a key there is not run again.
        journal (str, optional): A file each finished run is appended to
            (one JSON line, flushed to disk) as soon as it ends, so that a
            study stopped before its ``results.json`` loses no run
            (:func:`load_journal`).

    Returns:
        list[dict]: The results, in the order of ``jobs``.

    Raises:
        Exception: The first run that failed, once the runs already under
            way have ended (and gone to the journal); no further run is
            started after a failure.
    """
    reuse = reuse or {}
    results: List[Optional[dict]] = [None] * len(jobs)
    for i, job in enumerate(jobs):
        if job['key'] in reuse:
            results[i] = dict(reuse[job['key']], reused=True)
            show(results[i], job['splits'])
    order = sorted((i for i in range(len(jobs)) if results[i] is None),
                   key=lambda i: -jobs[i].get('cost', 1.0))
    if not order:
        return results  # type: ignore[return-value]
    failure: Optional[BaseException] = None
    with ProcessPoolExecutor(
            workers, mp_context=get_context(START_METHOD)) as ex:
        futures = {ex.submit(train_and_measure, jobs[i]): i for i in order}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            i = futures[future]
            try:
                res = future.result()
            except Exception as exc:  # re-raised once the pool is done
                # start nothing more; the runs under way still finish and
                # go to the journal (ex.shutdown(cancel_futures=True) here
                # leaves as_completed waiting for ever: tried)
                failure = failure or exc
                for pending in futures:
                    pending.cancel()
                continue
            results[i] = res
            if journal is not None:
                append_to_journal(journal, res)
            show(res, jobs[i]['splits'])
    if failure is not None:
        raise failure
    return results  # type: ignore[return-value]


def append_to_journal(path: str, entry: dict) -> None:
    """Append one JSON line to the journal and flush it to disk.

    Args:
        path (str): The journal (``runs.jsonl`` in ``--out``).
        entry (dict): A finished run, or the baselines; it has a ``key``.
    """
    with open(path, 'a') as f:
        f.write(json.dumps(entry) + '\n')
        f.flush()
        os.fsync(f.fileno())


def load_journal(path: str) -> Dict[str, dict]:
    """The runs (and baselines) an interrupted study appended to its
    journal, by key.

    Args:
        path (str): The journal (``runs.jsonl`` in ``--out``); a missing
            file has no runs.

    Returns:
        dict[str, dict]: The runs; a last line cut short by a kill is
        skipped (that run is trained again).
    """
    if not osp.isfile(path):
        return {}
    runs = {}
    with open(path) as f:
        for line in f:
            try:
                run = json.loads(line)
            except json.JSONDecodeError:
                continue
            runs[run['key']] = run
    return runs


def job_cost(spec: dict) -> float:
    """Rough relative cost of a variant, to start the longest first.

    Args:
        spec (dict): A :func:`variant`.

    Returns:
        float: 1 for a base; more for each generator and attack step.
    """
    cost = 1.0
    if spec['base'] is not None:
        kept = spec['keep'] or ['cutmix', 'adv']
        cost += 0.75 * len(kept)
        steps = spec['changes'].get('adv', {}).get('steps', 1)
        cost += 0.75 * (steps - 1) if 'adv' in kept else 0
    return cost


def wallclock_epochs(runs: Dict[str, List[dict]],
                     ratios: Optional[Dict[str, float]] = None
                     ) -> Dict[str, int]:
    """Epochs that take each base algorithm its HEXA version's time.

    Args:
        runs (dict[str, list[dict]]): The main study's results.
        ratios (dict[str, float], optional): Per base variant, its HEXA
            version's cost per epoch in base epochs, measured elsewhere
            (``--time-ratio``); it replaces the ratio of the rows' mean
            training times, which mean nothing when the rows were trained
            (or reused from runs) under different loads.

    Returns:
        dict[str, int]: Per base variant (both rows run), its epochs times
        the ratio, rounded.
    """
    epochs = {}
    for base, hexa in WALLCLOCK.items():
        if base in runs and hexa in runs:
            ratio = (ratios or {}).get(base)
            if ratio is None:
                ratio = (
                    mean_std([r['train_s'] for r in runs[hexa]])['mean'] /
                    mean_std([r['train_s'] for r in runs[base]])['mean'])
            epochs[base] = max(1, round(runs[base][0]['epochs'] * ratio))
    return epochs


def parse_ratios(items: Optional[Sequence[str]]) -> Dict[str, float]:
    """``--time-ratio BASE=R`` items as a dict.

    Args:
        items (Sequence[str], optional): ``BASE=R`` strings.

    Returns:
        dict[str, float]: Per base variant, R.

    Raises:
        ConfigError: If an item is not ``BASE=R`` with a base of the
            wallclock study and R > 0.
    """
    ratios = {}
    for item in items or []:
        base, _, value = item.partition('=')
        try:
            ratio = float(value)
        except ValueError:
            ratio = 0.0
        if base not in WALLCLOCK or not ratio > 0:
            raise ConfigError(
                f'--time-ratio {item}: give BASE=R with BASE one of '
                f'{", ".join(WALLCLOCK)} and R > 0 (its HEXA version\'s '
                'cost per epoch in base epochs).')
        ratios[base] = ratio
    return ratios


def make_jobs(names: Sequence[str],
              table: Dict[str, dict],
              args: argparse.Namespace,
              seeds: Sequence[int],
              splits: Sequence[str],
              curve_every: int,
              epochs: Optional[Dict[str, int]] = None,
              prefix: str = '') -> List[dict]:
    """One job per variant and seed.

    Args:
        names (Sequence[str]): Variants.
        table (dict[str, dict]): Where the variants are defined.
        args (argparse.Namespace): ``epochs``, ``images``.
        seeds (Sequence[int]): The seeds.
        splits (Sequence[str]): Splits measured at the end.
        curve_every (int): Epochs between val points.
        epochs (dict[str, int], optional): Epochs per variant, overriding
            ``args.epochs``.
        prefix (str): Prefix of the row names.

    Returns:
        list[dict]: The jobs.
    """
    jobs = []
    for name in names:
        for seed in seeds:
            job = dict(
                name=prefix + name,
                spec=table[name],
                seed=seed,
                epochs=(epochs or {}).get(name, args.epochs),
                images=args.images,
                curve_every=curve_every,
                splits=list(splits),
                cost=job_cost(table[name]))
            job['key'] = job_key(job)
            jobs.append(job)
    return jobs


def sweep_jobs(names: Sequence[str], args: argparse.Namespace) -> List[dict]:
    """The sweep's jobs: its variants and the bases they are paired with,
    all with the sweep's seeds and epochs, measured on val at the end.

    Args:
        names (Sequence[str]): Sweep variants.
        args (argparse.Namespace): ``sweep_seeds``, ``sweep_epochs``,
            ``images``.

    Returns:
        list[dict]: The jobs, bases first.
    """
    bases = sorted({SWEEP[n]['base'] for n in names})
    epochs = dict.fromkeys(list(names) + bases, args.sweep_epochs)
    return (make_jobs(bases, MAIN, args, args.sweep_seeds, ('val', ), 10**6,
                      epochs) +
            make_jobs(names, SWEEP, args, args.sweep_seeds, ('val', ), 10**6,
                      epochs))


def summarise(runs: Dict[str, List[dict]], pairs: Sequence[tuple],
              splits: Sequence[str]) -> dict:
    """Mean ± std per row and paired differences.

    Args:
        runs (dict[str, list[dict]]): Per row, one result per seed.
        pairs (Sequence[tuple]): ``(treated, base)`` row names.
        splits (Sequence[str]): Splits to summarise.

    Returns:
        dict: ``rows`` (per row, split and metric, a :func:`mean_std`, and
        the mean ``train_s`` and ``epochs`` of trained rows) and ``paired``
        (per pair, split and metric, a :func:`paired_difference` over the
        seeds both rows ran).
    """
    rows, paired = {}, []
    for name, results in runs.items():
        rows[name] = {
            split: {
                metric: mean_std([r[split][metric] for r in results])
                for metric in ('knn', 'few_shot')
            }
            for split in splits if split in results[0]
        }
        if 'train_s' in results[0]:
            rows[name]['train_s'] = mean_std([r['train_s'] for r in results])
            rows[name]['epochs'] = results[0]['epochs']
    for treated, base in pairs:
        if treated not in runs or base not in runs:
            continue
        by_seed = {r['seed']: r for r in runs[base]}
        both = [r for r in runs[treated] if r['seed'] in by_seed]
        diff = dict(treated=treated, base=base)
        for split in splits:
            if both and split in both[0]:
                diff[split] = {
                    metric: paired_difference(
                        [r[split][metric] for r in both],
                        [by_seed[r['seed']][split][metric] for r in both])
                    for metric in ('knn', 'few_shot')
                }
        paired.append(diff)
    return dict(rows=rows, paired=paired)


def fmt(stat: dict) -> str:
    """``mean ± std`` of a :func:`mean_std` (the mean alone for one run).

    Args:
        stat (dict): The summary.

    Returns:
        str: The text.
    """
    if stat['n'] == 1:
        return f'{stat["mean"]:6.2f}'
    return f'{stat["mean"]:6.2f} ± {stat["std"]:4.2f}'


def fmt_diff(stat: dict) -> str:
    """``+d [low, high]`` of a :func:`paired_difference`.

    Args:
        stat (dict): The paired difference.

    Returns:
        str: The text; ``+d (one seed)`` where one pair has no interval.
    """
    if stat['n'] < 2:
        return f'{stat["mean"]:+6.2f} (one seed)'
    return (f'{stat["mean"]:+6.2f} [{stat["low"]:+6.2f}, '
            f'{stat["high"]:+6.2f}]')


def print_table(title: str, summary: dict, splits: Sequence[str]) -> None:
    """Print a study's rows and paired differences.

    Args:
        title (str): The heading.
        summary (dict): Output of :func:`summarise`.
        splits (Sequence[str]): Splits shown.
    """
    rows = summary['rows']
    if not rows:
        return
    width = max(len(n) for n in rows) + 2
    cols = [(s, m) for s in splits for m in ('knn', 'few_shot')]
    label = {'knn': 'kNN', 'few_shot': f'{SHOTS}-shot'}
    print(f'\n{title}')
    print(f'{"representation":<{width}}' +
          ''.join(f'{s + " " + label[m]:>17}' for s, m in cols) +
          '   epochs  train s')
    for name, row in rows.items():
        cells = ''.join(f'{fmt(row[s][m]) if s in row else "":>17}'
                        for s, m in cols)
        extra = (f'   {row["epochs"]:6d}  {row["train_s"]["mean"]:7.0f}'
                 if 'train_s' in row else '')
        print(f'{name:<{width}}{cells}{extra}')
    if summary['paired']:
        print('\npaired difference to the base (same seeds), mean '
              '[95 % interval]')
        for diff in summary['paired']:
            cells = '  '.join(
                f'{s} {label[m]} {fmt_diff(diff[s][m])}' for s, m in cols
                if s in diff)
            name = f'{diff["treated"]} - {diff["base"]}'
            print(f'{name:<{2 * width}}{cells}')


def plot_curves(runs: Dict[str, List[dict]], base_rows: Dict[str, list],
                path: str) -> None:
    """kNN and 5-shot accuracy on val against epoch, mean ± std over seeds.

    Args:
        runs (dict[str, list[dict]]): Per variant, one result per seed.
        base_rows (dict[str, list]): Raw pixels and random init results.
        path (str): The PNG written.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric, label in zip(axes, ('knn', 'few_shot'),
                                 ('kNN top-1 (all labels)',
                                  f'{SHOTS}-shot (nearest class mean)')):
        for name, results in runs.items():
            curves = [r['curve'] for r in results if r['curve']]
            if not curves:
                continue
            epochs = [p['epoch'] for p in curves[0]]
            points = [[c[i][metric] for c in curves]
                      for i in range(len(epochs))]
            mean = [mean_std(p)['mean'] for p in points]
            std = [mean_std(p)['std'] for p in points]
            style = '-' if name.startswith('hexa') else '--'
            line, = ax.plot(epochs, mean, style, label=name, marker='.')
            ax.fill_between(epochs, [m - s for m, s in zip(mean, std)],
                            [m + s for m, s in zip(mean, std)],
                            color=line.get_color(), alpha=0.15)
        for row, color in (('raw pixels', 'black'), ('random init',
                                                      'grey')):
            level = mean_std([r['val'][metric]
                              for r in base_rows[row]])['mean']
            ax.axhline(level, color=color, linestyle=':', label=row)
        ax.set_xlabel('pre-training epoch')
        ax.set_ylabel(f'{label}, val, %')
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc='lower right')
    fig.suptitle('digits (16 px): representation quality during '
                 'pre-training, mean ± std over seeds')
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def machine() -> dict:
    """What the run shared the machine with.

    Returns:
        dict: CPU count and the 1/5/15-minute load averages.
    """
    return dict(cpus=os.cpu_count(), loadavg=list(os.getloadavg()))


@tool_main
def main(argv: Optional[List[str]] = None) -> int:
    """Run the studies, print the tables, write JSON and the figure.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv``.

    Returns:
        int: The exit status.
    """
    args = parse_args(argv)
    start = time.perf_counter()
    report = dict(args=vars(args), machine_start=machine())
    check_args(args)
    register_all_modules()
    wanted = set(args.variants or set(MAIN) | set(SWEEP))
    for spec in list(MAIN.values()) + list(SWEEP.values()):
        build_cfg(spec, args.epochs, args.images)
    reuse = load_reuse(args.reuse)
    os.makedirs(args.out, exist_ok=True)
    journal = osp.join(args.out, JOURNAL)
    resumed = load_journal(journal)
    if resumed:
        finished = sum('rows' not in r for r in resumed.values())
        print(f'{finished} finished runs of an interrupted study '
              f'carried over from {journal}', flush=True)
        reuse.update(resumed)
    base_key = baselines_key(args.seeds)
    if base_key in reuse:
        base_rows = reuse[base_key]['rows']
        print('baselines (raw pixels, random init) carried over', flush=True)
    else:
        base_rows = baselines(args.seeds)
        append_to_journal(journal, dict(key=base_key, rows=base_rows))
    runs: Dict[str, List[dict]] = {}
    pairs = []
    if 'main' in args.studies:
        names = [n for n in MAIN if n in wanted]
        jobs = make_jobs(names, MAIN, args, args.seeds, ('val', 'test'),
                         args.curve_every)
        results = run_jobs(jobs, args.jobs, reuse, journal)
        for job, res in zip(jobs, results):
            runs.setdefault(job['name'], []).append(res)
        pairs += [(n, MAIN[n]['base']) for n in names if MAIN[n]['base']]
    if 'wallclock' in args.studies:
        epochs = wallclock_epochs(runs, parse_ratios(args.time_ratio))
        jobs = make_jobs(list(epochs), MAIN, args, args.seeds,
                         ('val', 'test'), args.curve_every, epochs,
                         prefix='time-')
        results = run_jobs(jobs, args.jobs, reuse, journal)
        for job, res in zip(jobs, results):
            runs.setdefault(job['name'], []).append(res)
        pairs += [(WALLCLOCK[b], f'time-{b}') for b in epochs]
    sweep_runs: Dict[str, List[dict]] = {}
    if 'sweep' in args.studies:
        jobs = sweep_jobs([n for n in SWEEP if n in wanted], args)
        results = run_jobs(jobs, args.jobs, reuse, journal)
        for job, res in zip(jobs, results):
            sweep_runs.setdefault(job['name'], []).append(res)
    main_summary = summarise(dict(base_rows, **runs), pairs, ('val', 'test'))
    sweep_pairs = [(n, SWEEP[n]['base']) for n in sweep_runs if n in SWEEP]
    sweep_summary = summarise(sweep_runs, sweep_pairs, ('val', ))
    quick = ' (quick: checks the path, not a result)' if args.quick else ''
    epochs = args.epochs or "the configs'"
    print_table(
        f'digits 16 px, {epochs} epochs, seeds {args.seeds}{quick}: '
        'val chooses, test reports', main_summary, ('val', 'test'))
    if sweep_runs:
        print_table(
            f'sweep of the open HEXA settings, val only, '
            f'{args.sweep_epochs or epochs} epochs, seeds '
            f'{args.sweep_seeds}', sweep_summary, ('val', ))
    report.update(
        wall_s=time.perf_counter() - start,
        machine_end=machine(),
        baselines=base_rows,
        baselines_key=base_key,
        runs=runs,
        sweep_runs=sweep_runs,
        summary=main_summary,
        sweep_summary=sweep_summary,
        configs={
            n: config_text(MAIN[n]['config'])
            for n in MAIN
        })
    with atomic_path(osp.join(args.out, 'results.json')) as tmp:
        with open(tmp, 'w') as f:
            json.dump(report, f, indent=1)
    with atomic_path(osp.join(args.out, 'curves.png')) as tmp:
        plot_curves({n: r
                     for n, r in runs.items() if n in MAIN}, base_rows, tmp)
    if osp.exists(journal):
        os.remove(journal)  # every run is in results.json now
    print(f'\nwrote {osp.join(args.out, "results.json")} and curves.png '
          f'({report["wall_s"]:.0f} s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
