"""Time a HEXA training step against the plain algorithm's, in one process.

Builds three models from one HEXA config, with identical initial weights:
the algorithm without hard examples (e.g. MoCo-v2), HEXA with the naive
attack (a fresh forward pass for the first gradient, ``reuse_clean_pass``
off) and HEXA with the first attack gradient taken from the clean forward
pass. Each repeat runs one full ``train_step`` (data preprocessing, loss,
backward, SGD step, momentum encoder) of every variant in turn on the same
random batch, after warm-up; the median step time of each variant and its
ratio to the plain one are printed, as wall-clock time and, on the CPU, as
the process's CPU time too (robust to other processes sharing the cores; run
with one thread, ``OMP_NUM_THREADS=1``, for it to mean the same).

Example::

    OMP_NUM_THREADS=1 python tools/analysis/benchmark_hexa_step.py \\
        configs/hexa_mocov2/hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py
"""
import argparse
import copy
import statistics
import sys
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmpretrain.structures import DataSample

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS

DEFAULT_CONFIG = ('configs/hexa_mocov2/'
                  'hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py')


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        'config',
        nargs='?',
        default=DEFAULT_CONFIG,
        help='a HEXA config (its hard_examples are timed)')
    parser.add_argument(
        '--batch',
        type=int,
        default=None,
        help='images per step (default: the config\'s)')
    parser.add_argument(
        '--size',
        type=int,
        default=32,
        help='view size in pixels (default: 32)')
    parser.add_argument(
        '--repeats',
        type=int,
        default=10,
        help='timed steps per variant (default: 10)')
    parser.add_argument(
        '--warmup',
        type=int,
        default=3,
        help='untimed steps per variant (default: 3)')
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    return parser.parse_args()


def build_variants(cfg: Config) -> Dict[str, torch.nn.Module]:
    """The plain, naive HEXA and optimised HEXA models, same weights.

    Args:
        cfg (Config): A config whose model has ``hard_examples``.

    Returns:
        dict[str, nn.Module]: The three models, by name.
    """
    hard = cfg.model.get('hard_examples') or []
    if not hard:
        raise SystemExit(f'error: {cfg.filename} has no hard_examples.')
    variants = {'plain': [], 'HEXA naive': hard, 'HEXA optimised': hard}
    models = {}
    for name, generators in variants.items():
        generators = copy.deepcopy(generators)
        for gen in generators:
            if gen.get('type') == 'AdversarialHardExample':
                gen['reuse_clean_pass'] = name == 'HEXA optimised'
        model_cfg = copy.deepcopy(cfg.model)
        model_cfg.hard_examples = generators
        torch.manual_seed(0)
        models[name] = MODELS.build(model_cfg)
    return models


def time_steps(models: Dict[str, torch.nn.Module],
               data: dict,
               repeats: int,
               warmup: int,
               device: str,
               amp: bool = False) -> Dict[str, Dict[str, List[float]]]:
    """Run the models in turn; time each train step.

    Args:
        models (dict[str, nn.Module]): The models, by name.
        data (dict): One batch as the data loader gives it.
        repeats (int): Timed steps per model.
        warmup (int): Untimed steps per model.
        device (str): The device.
        amp (bool): Mixed precision (mmengine's ``AmpOptimWrapper``, CUDA
            only). Defaults to False.

    Returns:
        dict[str, dict[str, list[float]]]: Per model, step times in seconds
        as ``wall`` and ``cpu`` (process) time.
    """
    wrapper_type = AmpOptimWrapper if amp else OptimWrapper
    wrappers = {}
    for name, model in models.items():
        model.to(device).train()
        wrappers[name] = wrapper_type(
            optimizer=torch.optim.SGD(
                model.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4))
    times = {name: dict(wall=[], cpu=[]) for name in models}
    for step in range(warmup + repeats):
        for name, model in models.items():
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            wall, cpu = time.perf_counter(), time.process_time()
            model.train_step(data, wrappers[name])
            if device.startswith('cuda'):
                torch.cuda.synchronize()
            if step >= warmup:
                times[name]['wall'].append(time.perf_counter() - wall)
                times[name]['cpu'].append(time.process_time() - cpu)
    return times


def random_batch(batch: int, size: int, views: int = 2) -> dict:
    """A batch of random images as the data loader gives it.

    Args:
        batch (int): Images.
        size (int): Height and width in pixels.
        views (int): Views per image. Defaults to 2.

    Returns:
        dict: ``inputs`` (one uint8 tensor per view) and ``data_samples``.
    """
    gen = torch.Generator().manual_seed(0)
    return dict(
        inputs=[
            torch.randint(
                0,
                256, (batch, 3, size, size),
                generator=gen,
                dtype=torch.uint8) for _ in range(views)
        ],
        data_samples=[DataSample() for _ in range(batch)])


def main() -> int:
    """Build, time and print the step-time ratios.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    register_all_modules()
    cfg = Config.fromfile(args.config)
    batch = args.batch or cfg.train_dataloader.batch_size
    models = build_variants(cfg)
    data = random_batch(batch, args.size)
    times = time_steps(models, data, args.repeats, args.warmup, args.device)
    clocks = ['wall'] if args.device.startswith('cuda') else ['wall', 'cpu']
    plain = {c: statistics.median(times['plain'][c]) for c in clocks}
    print(f'{type(models["plain"]).__name__} {cfg.model.backbone.type}-'
          f'{cfg.model.backbone.get("depth", "")}, batch {batch}, '
          f'{args.size} px, {args.device}, torch threads '
          f'{torch.get_num_threads()}, median of {args.repeats} steps '
          f'after {args.warmup} warm-up')
    print(f'{"variant":<16}' + ''.join(f'{c + " s/step":>14}{"ratio":>7}'
                                       for c in clocks))
    for name, values in times.items():
        medians = {c: statistics.median(values[c]) for c in clocks}
        print(f'{name:<16}' +
              ''.join(f'{medians[c]:>14.4f}{medians[c] / plain[c]:>7.2f}'
                      for c in clocks))
    return 0


if __name__ == '__main__':
    sys.exit(main())
