"""DeepCluster-v2's overhead per epoch: fill pass, clustering, collectives.

**Measured** (``CONFIG``, default the 2-crop digits config): ``--epochs``
epochs of real training through the runner, validation and checkpoints off,
on one process or on several under torchrun (``--launcher pytorch``). It
times, on rank 0:

* the fill pass before epoch 1 (``DeepClusterHook._fill``);
* the clustering at each epoch start (``DeepClusterHook.before_train_epoch``:
  bank sync, k-means of every prototype set, assignment tables) and, inside
  it, the collective calls (every ``all_reduce`` of the hook, the memory
  bank and k-means);
* the rest of the epoch: its training iterations.

and prints each as a share of an epoch's training iterations.

**Extrapolated** to ImageNet (``--imagenet-config``, N = 1 281 167 images,
``--gpus`` W processes) from per-sample costs measured in the same process
at ImageNet's shapes: a train step of that config's model (ResNet-50, its
crops), per image; a fill forward (the assignment crops), per image; and
k-means of a bank of random unit rows (its prototype sets, 10 iterations),
per row. The model, per epoch and process:

* training: ``N / W * c_train``;
* clustering: ``N / W * c_kmeans`` plus the collectives, whose bytes are
  counted from the code (bank sync ``2 * 8N``; per set ``4N`` ids, ``8KD``
  initial centroids, ``8K(D+1)`` per iteration, ``8K`` counts, ``8N``
  assignment table) and sent by ring all-reduce, ``2 (W-1)/W * bytes /
  bandwidth + calls * latency`` (``--bus-gbps`` and ``--latency-us``: assumed,
  not measured);
* fill pass: ``N / W * c_fill``, once per run.

The measured part prints CPU time (of the process: robust to other jobs on
the machine) and wall-clock time; the per-sample costs are CPU time on the
CPU (run with one thread), wall-clock time on a GPU. They are this machine's;
a GPU speeds training and k-means up by different factors, so the script
also prints by how much more than k-means the GPU may speed training up
before clustering reaches 5 % of an epoch.

Usage::

    OMP_NUM_THREADS=1 python tools/analysis/benchmark_deepcluster_overhead.py
    OMP_NUM_THREADS=1 python -m torch.distributed.run --nproc_per_node 2 \\
        tools/analysis/benchmark_deepcluster_overhead.py --launcher pytorch
"""
import argparse
import functools
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, Sequence

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.dist import get_rank, is_distributed
from mmengine.hooks import Hook
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmpretrain.structures import DataSample

from hexa_mm import register_all_modules
from hexa_mm.engine.hooks import DeepClusterHook
from hexa_mm.engine.hooks import deepcluster_hook as hook_module
from hexa_mm.models.utils import kmeans as kmeans_module
from hexa_mm.models.utils import memory_bank as bank_module
from hexa_mm.models.utils import spherical_kmeans
from hexa_mm.registry import MODELS, RUNNERS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DIGITS = ('configs/deepclusterv2/'
          'deepclusterv2_resnet18_2xb64-coslr-30e_digits.py')
IMAGENET = ('configs/deepclusterv2/'
            'deepclusterv2_resnet50_8xb64-mcrop-2-6-lars-coslr-800e_in1k.py')
IMAGENET_TRAIN = 1_281_167
GOAL = 0.05


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config', nargs='?', default=DIGITS, help='the measured config')
    parser.add_argument(
        '--epochs', type=int, default=2, help='epochs measured (default: 2)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch'], default='none')
    parser.add_argument('--imagenet-config', default=IMAGENET)
    parser.add_argument(
        '--gpus', type=int, default=8, help='W of the extrapolation')
    parser.add_argument(
        '--batch',
        type=int,
        default=2,
        help='images per step when measuring the per-sample costs')
    parser.add_argument(
        '--kmeans-rows',
        type=int,
        default=20_000,
        help='rows of the bank for the k-means cost per row')
    parser.add_argument(
        '--bus-gbps',
        type=float,
        default=100.,
        help='assumed all-reduce bus bandwidth, GB/s (default: 100)')
    parser.add_argument(
        '--latency-us',
        type=float,
        default=50.,
        help='assumed latency of one all-reduce, us (default: 50)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the measured config')
    parser.add_argument(
        '--skip-measured',
        action='store_true',
        help='only the per-sample costs and the extrapolation')
    return parser.parse_args()


class Clock:
    """Accumulates the CPU time (of the process) and the wall-clock time
    spent in timed sections, per name."""

    def __init__(self) -> None:
        self.total: Dict[str, List[float]] = {}
        self.calls: Dict[str, int] = {}

    @staticmethod
    def now() -> List[float]:
        """Both clocks, after the queued CUDA work.

        Returns:
            list[float]: CPU and wall-clock seconds.
        """
        synchronize()
        return [time.process_time(), time.perf_counter()]

    def add(self, name: str, start: List[float]) -> None:
        """Count one section that began at ``start``.

        Args:
            name (str): What was timed.
            start (list[float]): :meth:`now` at its start.
        """
        spent = [end - begin for end, begin in zip(self.now(), start)]
        total = self.total.setdefault(name, [0., 0.])
        total[0] += spent[0]
        total[1] += spent[1]
        self.calls[name] = self.calls.get(name, 0) + 1

    def wrap(self, name: str, fn: Callable) -> Callable:
        """``fn``, timed under ``name``.

        Args:
            name (str): The name.
            fn (Callable): The function.

        Returns:
            Callable: The timed function.
        """

        @functools.wraps(fn)
        def timed(*args, **kwargs):
            start = self.now()
            out = fn(*args, **kwargs)
            self.add(name, start)
            return out

        return timed


def synchronize() -> None:
    """Wait for queued CUDA work, if any."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class EpochClock(Hook):
    """Times each epoch from its start (before the clustering) to its end
    (before checkpoints and validation).

    Args:
        clock (Clock): Where the times go, under ``epoch``.
    """

    priority = 'VERY_HIGH'

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.start = [0., 0.]

    def before_train_epoch(self, runner) -> None:
        """Start the epoch's clock.

        Args:
            runner (Runner): The runner.
        """
        self.start = self.clock.now()

    def after_train_epoch(self, runner) -> None:
        """Stop it.

        Args:
            runner (Runner): The runner.
        """
        self.clock.add('epoch', self.start)


def measure_run(args: argparse.Namespace) -> Dict[str, object]:
    """Train the config for a few epochs with the timers in place.

    Args:
        args (argparse.Namespace): The arguments.

    Returns:
        dict: CPU and wall-clock seconds per epoch of the iterations, the
        clustering and the collectives inside it, of the fill pass; the
        bytes and calls of those collectives, measured and modelled; world
        size and samples.
    """
    clock = Clock()
    phase = ['other']
    sent = dict(bytes=0, calls=0)

    def in_phase(name: str, fn: Callable) -> Callable:
        timed = clock.wrap(name, fn)

        @functools.wraps(fn)
        def run(*args, **kwargs):
            phase.append(name)
            try:
                return timed(*args, **kwargs)
            finally:
                phase.pop()

        return run

    def collective(fn: Callable) -> Callable:

        @functools.wraps(fn)
        def run(data: torch.Tensor, *args, **kwargs):
            if phase[-1] == 'cluster':
                sent['bytes'] += data.numel() * data.element_size()
                sent['calls'] += 1
            start = clock.now()
            out = fn(data, *args, **kwargs)
            clock.add(f'collectives in {phase[-1]}', start)
            return out

        return run

    for module in (hook_module, bank_module, kmeans_module):
        module.all_reduce = collective(module.all_reduce)
    DeepClusterHook._fill = in_phase('fill', DeepClusterHook._fill)
    DeepClusterHook.before_train_epoch = in_phase(
        'cluster', DeepClusterHook.before_train_epoch)
    cfg = Config.fromfile(osp.join(ROOT, args.config))
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    cfg.train_cfg.max_epochs = args.epochs
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    cfg.param_scheduler = None
    with tempfile.TemporaryDirectory() as work_dir:
        cfg.work_dir = work_dir
        runner = RUNNERS.build(cfg)
        runner.register_hook(EpochClock(clock))
        runner.train()
        num_samples = len(runner.train_dataloader.dataset)
        world = runner.world_size
        model = DeepClusterHook._model(runner)
        iters = next(
            h for h in runner.hooks
            if isinstance(h, DeepClusterHook)).num_iters
        expected = collective_bytes(num_samples, model.num_prototypes,
                                    model.feat_dim, iters, world)
    epochs = clock.calls['epoch']
    per_epoch = {
        name: [v / epochs for v in clock.total.get(name, [0., 0.])]
        for name in ('epoch', 'cluster', 'collectives in cluster')
    }
    return dict(
        iterations=[
            e - c for e, c in zip(per_epoch['epoch'], per_epoch['cluster'])
        ],
        cluster=per_epoch['cluster'],
        collectives=per_epoch['collectives in cluster'],
        fill=clock.total['fill'],
        bytes=sent['bytes'] / epochs,
        calls=sent['calls'] / epochs,
        model_bytes=expected[0],
        model_calls=expected[1],
        world=world,
        samples=num_samples)


def per_sample_costs(args: argparse.Namespace) -> Dict[str, float]:
    """Per-sample costs at ImageNet's shapes, measured in this process.

    Args:
        args (argparse.Namespace): The arguments.

    Returns:
        dict[str, float]: Seconds per image of a train step (``train``) and
        of a fill forward (``fill``); seconds per bank row of k-means of all
        prototype sets (``kmeans``); the model's ``crops``, ``sizes``,
        ``num_prototypes``, ``feat_dim``.
    """
    cfg = Config.fromfile(osp.join(ROOT, args.imagenet_config))
    # one process: SyncBN as BN
    model = revert_sync_batchnorm(MODELS.build(cfg.model)).to(device())
    views = next(t for t in cfg.train_dataloader.dataset.pipeline
                 if t['type'] == 'MultiView')
    counts = views['num_views']
    counts = [counts] if isinstance(counts, int) else counts
    sizes = [
        pipeline[0]['scale']
        for pipeline, n in zip(views['transforms'], counts) for _ in range(n)
    ]
    gen = torch.Generator().manual_seed(0)
    batch = args.batch
    data = dict(
        inputs=[
            torch.randint(
                0, 256, (batch, 3, s, s), generator=gen, dtype=torch.uint8)
            for s in sizes
        ],
        data_samples=[
            DataSample(metainfo=dict(sample_idx=i)) for i in range(batch)
        ])
    sets, dim = model.num_prototypes, model.feat_dim
    model.set_clusters([
        F.normalize(torch.randn(k, dim, generator=gen), dim=1).to(device())
        for k in sets
    ], torch.stack([torch.randint(k, (batch, ), generator=gen) for k in sets]))
    model.init_memory_bank(batch)
    optim = OptimWrapper(optimizer=torch.optim.SGD(model.parameters(), lr=0.))
    # CPU time on the CPU, wall-clock time on a GPU
    which = 0 if device() == 'cpu' else 1

    def fill() -> None:
        with torch.no_grad():
            inputs = model.data_preprocessor(data, True)
            model.fill_memory_bank(inputs['inputs'], inputs['data_samples'])

    steps = dict(train=lambda: model.train_step(data, optim), fill=fill)
    costs = {}
    for name, fn in steps.items():
        fn()  # warm-up
        times = []
        for _ in range(2):
            start = Clock.now()
            fn()
            times.append(Clock.now()[which] - start[which])
        costs[name] = statistics.median(times) / batch
    bank = F.normalize(
        torch.randn(args.kmeans_rows, dim, generator=gen), dim=1).to(device())
    hook = next(h for h in cfg.custom_hooks if h['type'] == 'DeepClusterHook')
    iters = DeepClusterHook(**{
        k: v
        for k, v in hook.items() if k != 'type'
    }).num_iters
    start = Clock.now()
    for h, k in enumerate(sets):
        spherical_kmeans(bank, k, iters, seed=h)
    costs['kmeans'] = (Clock.now()[which] - start[which]) / args.kmeans_rows
    costs.update(sizes=sizes, num_prototypes=sets, feat_dim=dim, iters=iters)
    return costs


def device() -> str:
    """The device of the per-sample costs.

    Returns:
        str: ``'cuda'`` if available, else ``'cpu'``.
    """
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def collective_bytes(num_samples: int, sets: Sequence[int], dim: int,
                     iters: int, world: int) -> List[float]:
    """Bytes and calls of the all-reduces of one clustering, as the code
    sends them (``MemoryBank.sync``, ``spherical_kmeans``,
    ``assignment_table``).

    Args:
        num_samples (int): N.
        sets (Sequence[int]): K of each prototype set.
        dim (int): D.
        iters (int): k-means iterations.
        world (int): Processes (one process does not sync the bank).

    Returns:
        list[float]: Bytes, calls.
    """
    total = 2 * 8 * num_samples if world > 1 else 0
    calls = 2 if world > 1 else 0
    for k in sets:
        total += (4 * num_samples + 8 * k * dim + iters * 8 * k * (dim + 1) +
                  8 * k + 8 * num_samples)
        calls += iters + 4
    return [float(total), float(calls)]


def report_measured(run: Dict[str, object]) -> None:
    """Print the measured shares, in CPU and in wall-clock time.

    Args:
        run (dict): What :func:`measure_run` returned.
    """

    def both(name: str) -> str:
        return ' / '.join(
            f'{run[name][i]:.3f} s ({100 * run[name][i] / base[i]:.2f} %)'
            for i in range(2))

    base = run['iterations']
    print(f'measured: {run["samples"]} samples, {run["world"]} process(es); '
          'per epoch on rank 0, CPU / wall-clock time (share of the '
          'iterations):')
    print(f'  training iterations  {base[0]:.2f} s / {base[1]:.2f} s')
    print(f'  clustering           {both("cluster")}')
    print(f'  of which collectives {both("collectives")}: '
          f'{run["bytes"]:.0f} bytes in {run["calls"]:.0f} all-reduces; the '
          f'model\'s count: {run["model_bytes"]:.0f} bytes in '
          f'{run["model_calls"]:.0f}')
    print(f'  fill pass (once)     {both("fill")}')


def report_extrapolated(costs: Dict[str, float],
                        args: argparse.Namespace) -> None:
    """Print the ImageNet extrapolation.

    Args:
        costs (dict[str, float]): What :func:`per_sample_costs` returned.
        args (argparse.Namespace): The arguments.
    """
    n, w = IMAGENET_TRAIN, args.gpus
    sets, dim = costs['num_prototypes'], costs['feat_dim']
    local = n / w
    train = local * costs['train']
    cluster = local * costs['kmeans']
    nbytes, calls = collective_bytes(n, sets, dim, costs['iters'], w)
    comm = (2 * (w - 1) / w * nbytes / (args.bus_gbps * 1e9) +
            calls * args.latency_us * 1e-6)
    fill = local * costs['fill']
    unit = 'CPU s' if device() == 'cpu' else 's'
    share = (cluster + comm) / train
    print(f'per-sample costs on {device()} ({unit}), crops {costs["sizes"]} '
          f'px, batch {args.batch}: train step {costs["train"]:.4f} / image, '
          f'fill forward {costs["fill"]:.4f} / image, k-means '
          f'{len(sets)} x {sets[0]} x {dim} {costs["kmeans"] * 1e3:.4f} ms '
          '/ row')
    print(f'extrapolated: ImageNet (N = {n}) on {w} processes with these '
          'costs, per epoch and process:')
    print(f'  training iterations {train:.0f} {unit}')
    print(f'  clustering          {cluster:.1f} {unit} + collectives '
          f'{comm:.3f} s ({nbytes / 1e6:.0f} MB in {calls:.0f} all-reduces '
          f'at {args.bus_gbps:g} GB/s, {args.latency_us:g} us each): '
          f'{100 * share:.3f} % of the iterations (goal <= 5 %)')
    print(f'  fill pass (once)    {fill:.0f} {unit} '
          f'({100 * fill / train:.1f} % of one epoch)')
    print(f'  clustering stays <= 5 % while the GPU speeds training up at '
          f'most {GOAL / share:.0f} x more than it speeds k-means up')


def main() -> int:
    """Measure, extrapolate and print.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    register_all_modules()
    if not args.skip_measured:
        run = measure_run(args)
        rank = get_rank()
        if is_distributed():
            # the rest runs on rank 0 alone
            torch.distributed.destroy_process_group()
        if rank != 0:
            return 0
        report_measured(run)
    report_extrapolated(per_sample_costs(args), args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
