"""Compare representations: kNN top-1 and few-shot accuracy.

    python tools/analysis/feature_quality.py CONFIG \
        [--checkpoint NAME=CKPT[,CKPT...] ...] [--paired A:B ...] \
        [--split val] [--shots 5] [--draws 20]

Rows: raw pixels, the config's network at random initialisation (one per
seed 0..n-1, n the largest number of checkpoints of a row), and each named
row of checkpoints, one per seed: mean ± std over them. ``--paired A:B``
prints the difference A - B, checkpoint i of A paired with checkpoint i of
B (the same seed), with a 95 % Student-t interval. Bank and queries come
from the config's ``val_dataloader`` (a ``KNNDataset``: the labelled train
images as the bank, ``--split`` images as the queries). kNN: weighted, k and
temperature from the config's ``KNNAccuracy``. Few-shot: nearest class mean
with ``--shots`` labels per class, mean over ``--draws`` seeded draws.
"""
import argparse
import sys
from functools import partial
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.runner import Runner

from hexa_mm import register_all_modules
from hexa_mm.engine.checkpoint import load_model_weights, load_weights_only
from hexa_mm.evaluation import (mean_std, measure_representation,
                                paired_difference)
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError, tool_main

METRICS = ('knn', 'few_shot')


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv``.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config with a KNNDataset val set')
    parser.add_argument(
        '--checkpoint',
        nargs='+',
        default=[],
        metavar='NAME=CKPT[,CKPT...]',
        help='a row of checkpoints, one per seed, named (name=paths) or '
        'bare')
    parser.add_argument(
        '--paired',
        nargs='+',
        default=[],
        metavar='A:B',
        help='print row A minus row B, paired by position (seed)')
    parser.add_argument(
        '--split',
        default='val',
        help="the query split of the val data set (default: 'val')")
    parser.add_argument('--shots', type=int, default=5)
    parser.add_argument('--draws', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='overrides')
    return parser.parse_args(argv)


def parse_rows(items: List[str],
               pairs: List[str]) -> Tuple[Dict[str, List[str]], list]:
    """Named rows of checkpoints and the pairs to compare.

    Args:
        items (list[str]): ``NAME=CKPT[,CKPT...]`` or ``CKPT``.
        pairs (list[str]): ``A:B`` row names.

    Returns:
        tuple: ``{name: [paths]}`` and ``[(A, B)]``.
    """
    rows: Dict[str, List[str]] = {}
    for item in items:
        name, _, paths = item.rpartition('=')
        rows[name or paths] = paths.split(',')
    parsed = []
    for pair in pairs:
        treated, _, base = pair.partition(':')
        for name in (treated, base):
            if name not in rows:
                raise ConfigError(f'--paired {pair}: no checkpoint row named '
                                  f'{name!r} (rows: {list(rows)}).')
        if len(rows[treated]) != len(rows[base]):
            raise ConfigError(f'--paired {pair}: {len(rows[treated])} vs '
                              f'{len(rows[base])} checkpoints; pair one per '
                              'seed.')
        parsed.append((treated, base))
    return rows, parsed


def knn_settings(cfg: Config) -> dict:
    """``k`` and ``temperature`` of the config's ``KNNAccuracy``.

    Args:
        cfg (Config): The config.

    Returns:
        dict: The settings (k=200, T=0.07 where the config has none).
    """
    evaluators = cfg.get('val_evaluator') or {}
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    knn = [e for e in evaluators if e.get('type') == 'KNNAccuracy']
    found = knn[0] if knn else {}
    return dict(
        k=found.get('k', 200), temperature=found.get('temperature', 0.07))


def cell(results: List[dict], metric: str) -> str:
    """``mean ± std`` of a row (the value alone for one result).

    Args:
        results (list[dict]): One result per seed.
        metric (str): ``knn`` or ``few_shot``.

    Returns:
        str: The text.
    """
    stat = mean_std([r[metric] for r in results])
    if stat['n'] == 1:
        return f'{stat["mean"]:.2f}'
    return f'{stat["mean"]:.2f} ± {stat["std"]:.2f}'


@tool_main
def main(argv=None) -> int:
    """Print the comparison table.

    Args:
        argv (list[str], optional): Arguments; defaults to ``sys.argv``.

    Returns:
        int: The exit status.
    """
    args = parse_args(argv)
    register_all_modules()
    # init_weights reports every layer at INFO: keep the table readable
    MMLogger.get_instance('feature_quality', log_level='WARNING')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if cfg.get('val_dataloader') is None:
        raise ConfigError(f'{args.config} has no val_dataloader; it '
                          'needs a KNNDataset (bank + queries).')
    rows, pairs = parse_rows(args.checkpoint, args.paired)
    for paths in rows.values():  # refuse a bad file before building
        for path in paths:
            load_weights_only(path, mmap=True)
    cfg.val_dataloader.dataset.query.split = args.split
    loader = Runner.build_dataloader(cfg.val_dataloader)
    knn_cfg = knn_settings(cfg)
    measure = partial(
        measure_representation,
        loader=loader,
        knn=knn_cfg,
        shots=args.shots,
        draws=args.draws,
        seed=args.seed,
        progress=True)
    results: Dict[str, List[dict]] = {}
    torch.manual_seed(args.seed)
    model = MODELS.build(cfg.model)
    results['raw pixels'] = [measure(model, pixels=True)]
    results['random init'] = []
    for seed in range(max([len(p) for p in rows.values()] or [1])):
        torch.manual_seed(seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
        results['random init'].append(measure(model))
    for name, paths in rows.items():
        results[name] = []
        for path in paths:
            model = MODELS.build(cfg.model)
            load_model_weights(model, path)
            results[name].append(measure(model))
    width = max(len(name) for name in results)
    knn_head = f'kNN top-1 (k={knn_cfg["k"]})'
    shot_head = f'{args.shots}-shot ({args.draws} draws)'
    print(f'\n{args.split} split; mean ± std over seeds where a row has '
          'several')
    print(f'{"representation":<{width}}  {knn_head:>17}  {shot_head:>17}')
    for name, res in results.items():
        print(f'{name:<{width}}  {cell(res, "knn"):>17}  '
              f'{cell(res, "few_shot"):>17}')
    for treated, base in pairs:
        diffs = {
            metric: paired_difference([r[metric] for r in results[treated]],
                                      [r[metric] for r in results[base]])
            for metric in METRICS
        }
        text = '  '.join(f'{label} {d["mean"]:+.2f} [{d["low"]:+.2f}, '
                         f'{d["high"]:+.2f}]'
                         for label, d in zip(('kNN', f'{args.shots}-shot'),
                                             diffs.values()))
        print(f'{treated} - {base} (paired by seed, mean [95 % interval], '
              f'n={diffs["knn"]["n"]}): {text}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
