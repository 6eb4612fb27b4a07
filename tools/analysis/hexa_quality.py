"""HEXA's representation quality on digits, at equal budget, over seeds.

    python tools/analysis/hexa_quality.py [--quick] [--variants NAME ...]
        [--seeds 0 1 2] [--epochs E] [--out results.json]

Pre-trains every variant with its digits config (the same model, data,
schedule and number of epochs for all; only ``hard_examples`` differ within
an algorithm), once per seed, in this process (one device, no DDP: the
global batch is the config's per-process batch), then measures the backbone
features of the val split against the train split:

* kNN top-1 with all train labels (weighted kNN, k=200, T=0.07);
* few-shot: nearest class mean with 5 labelled train images per class, mean
  over 20 seeded draws.

Baselines: raw pixels and the network at random initialisation (one per
seed). The table gives mean ± std over seeds and each variant's mean
pre-training time. ``--quick`` (1 epoch on 512 train images, seed 0) checks
that every variant runs end to end in minutes; its numbers are not results.
``--out`` saves the results and the configs trained, as JSON.
"""
import argparse
import copy
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Dict, List

import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from hexa_mm.evaluation import (extract_features, few_shot_accuracy,
                                knn_accuracy)
from hexa_mm.registry import MODELS, RUNNERS
from hexa_mm.utils import ConfigError, register_all_modules

MOCO = 'configs/mocov2/mocov2_resnet18_2xb64-coslr-30e_digits.py'
HEXA_MOCO = ('configs/hexa_mocov2/'
             'hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py')
DCLUSTER = ('configs/deepclusterv2/'
            'deepclusterv2_resnet18_2xb64-mcrop-2-4-coslr-30e_digits.py')
HEXA_DCLUSTER = ('configs/hexa_deepclusterv2/hexa-deepclusterv2_resnet18_'
                 '2xb64-mcrop-2-4-coslr-30e_digits.py')

#: name: (config, generators kept by name; None keeps the config's).
VARIANTS = {
    'mocov2': (MOCO, None),
    'hexa-mocov2': (HEXA_MOCO, None),
    'hexa-mocov2-cutmix': (HEXA_MOCO, ['cutmix']),
    'hexa-mocov2-adv': (HEXA_MOCO, ['adv']),
    'deepclusterv2': (DCLUSTER, None),
    'hexa-deepclusterv2': (HEXA_DCLUSTER, None),
}
QUICK_IMAGES = 512
SHOTS, DRAWS = 5, 20


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--quick',
        action='store_true',
        help=f'1 epoch on {QUICK_IMAGES} images, seed 0')
    parser.add_argument(
        '--variants',
        nargs='+',
        choices=list(VARIANTS),
        default=list(VARIANTS),
        help='default: all')
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument(
        '--epochs',
        type=int,
        default=None,
        help="pre-training epochs (default: the configs')")
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='data loader workers (default: the configs\')')
    parser.add_argument('--out', default=None, help='write results as JSON')
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.epochs = [0], 1
    return args


def set_epochs(cfg: Config, epochs: int) -> None:
    """Shorten or lengthen a schedule: schedulers that end with training
    end at ``epochs`` (a cosine's ``T_max`` moves with them); warm-ups keep
    their length.

    Args:
        cfg (Config): An epoch-based config.
        epochs (int): The new number of epochs.
    """
    old = cfg.train_cfg.max_epochs
    cfg.train_cfg.max_epochs = epochs
    schedulers = cfg.param_scheduler
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        if scheduler.get('end') == old:
            scheduler['end'] = epochs
            if 'T_max' in scheduler:
                scheduler['T_max'] = max(1, scheduler['T_max'] + epochs - old)


def variant_cfg(name: str, args: argparse.Namespace) -> Config:
    """The pre-training config of a variant, for every seed.

    Args:
        name (str): The variant.
        args (argparse.Namespace): ``epochs``, ``workers``, ``quick``.

    Returns:
        Config: The config, without validation or checkpoints.
    """
    path, keep = VARIANTS[name]
    if not osp.isfile(path):
        raise ConfigError(f'variant {name}: config {path} not found.')
    cfg = Config.fromfile(path)
    if keep is not None:
        cfg.model.hard_examples = [
            g for g in cfg.model.hard_examples if g['name'] in keep
        ]
    if args.epochs is not None:
        set_epochs(cfg, args.epochs)
    if args.workers is not None:
        cfg.train_dataloader.num_workers = args.workers
        cfg.train_dataloader.persistent_workers = args.workers > 0
    if args.quick:
        cfg.train_dataloader.dataset.indices = QUICK_IMAGES
    cfg.log_level = 'WARNING'
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.checkpoint = None
    return cfg


def measure(model: torch.nn.Module,
            loader,
            pixels: bool = False) -> Dict[str, float]:
    """kNN top-1 and few-shot accuracy of one representation.

    Args:
        model (nn.Module): The algorithm (its preprocessor is always used).
        loader (DataLoader): Loader of the ``KNNDataset`` (bank, queries).
        pixels (bool): Measure the normalised pixels instead.

    Returns:
        dict[str, float]: ``knn`` and ``few_shot`` accuracies in percent.
    """
    feats, labels = extract_features(
        model, loader, pixels=pixels, progress=False)
    n_bank = len(loader.dataset.bank)
    bank, bank_labels = feats[:n_bank], labels[:n_bank]
    query, query_labels = feats[n_bank:], labels[n_bank:]
    return dict(
        knn=knn_accuracy(
            bank, bank_labels, query, query_labels, k=200, temperature=0.07),
        few_shot=few_shot_accuracy(bank, bank_labels, query, query_labels,
                                   SHOTS, DRAWS))


def summary(values: List[float]) -> str:
    """``mean ± std`` (sample std; no std for one value).

    Args:
        values (list[float]): The values.

    Returns:
        str: The summary.
    """
    if len(values) == 1:
        return f'{values[0]:6.2f}'
    return f'{statistics.mean(values):6.2f} ± {statistics.stdev(values):4.2f}'


def run(args: argparse.Namespace,
        configs: Dict[str, Config]) -> Dict[str, List[Dict[str, float]]]:
    """Pre-train and measure every variant and seed, and the baselines.

    Args:
        args (argparse.Namespace): The arguments.
        configs (dict[str, Config]): The pre-training config of each
            variant (see :func:`variant_cfg`).

    Returns:
        dict: Per row name, one result dict per seed.
    """
    base = Config.fromfile(MOCO)
    loader = Runner.build_dataloader(base.val_dataloader)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    results: Dict[str, List[Dict[str, float]]] = {}
    torch.manual_seed(0)
    results['raw pixels'] = [measure(MODELS.build(base.model), loader, True)]
    for seed in args.seeds:
        torch.manual_seed(seed)
        model = MODELS.build(base.model)
        model.init_weights()
        results.setdefault('random init',
                           []).append(measure(model.to(device), loader))
    with tempfile.TemporaryDirectory() as work_dir:
        for name, variant in configs.items():
            for seed in args.seeds:
                cfg = copy.deepcopy(variant)
                cfg.randomness = dict(seed=seed)
                cfg.work_dir = osp.join(work_dir, f'{name}-{seed}')
                cfg.experiment_name = f'{name}-seed{seed}-{time.time_ns()}'
                start = time.perf_counter()
                runner = RUNNERS.build(cfg)
                runner.train()
                seconds = time.perf_counter() - start
                res = measure(runner.model, loader)
                res['train_s'] = seconds
                results.setdefault(name, []).append(res)
                print(
                    f'{name} seed {seed}: kNN {res["knn"]:.2f}  '
                    f'{SHOTS}-shot {res["few_shot"]:.2f}  '
                    f'({seconds:.0f} s)',
                    flush=True)
                del runner
    return results


def main() -> int:
    """Run and print the table.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    register_all_modules()
    MMLogger.get_instance('hexa_quality', log_level='WARNING')
    try:
        # read every config once, so that all seeds train the same one
        configs = {name: variant_cfg(name, args) for name in args.variants}
        results = run(args, configs)
    except (ConfigError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    epochs = args.epochs or "the configs'"
    print(f'\ndigits, {epochs} epochs, seeds {args.seeds}'
          f'{" (quick: not a result)" if args.quick else ""}')
    width = max(len(name) for name in results)
    print(f'{"representation":<{width}}  {"kNN top-1":>15}  '
          f'{f"{SHOTS}-shot ({DRAWS} draws)":>17}  train s')
    for name, runs in results.items():
        train_s = [r['train_s'] for r in runs if 'train_s' in r]
        seconds = f'{statistics.mean(train_s):7.0f}' if train_s else ''
        print(f'{name:<{width}}  {summary([r["knn"] for r in runs]):>15}  '
              f'{summary([r["few_shot"] for r in runs]):>17}  {seconds}')
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(
                dict(
                    args=vars(args),
                    results=results,
                    configs={
                        n: c.pretty_text
                        for n, c in configs.items()
                    }),
                f,
                indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
