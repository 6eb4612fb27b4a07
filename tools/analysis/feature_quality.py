"""Compare representations: kNN top-1 and few-shot accuracy.

    python tools/analysis/feature_quality.py CONFIG \
        [--checkpoint NAME=CKPT ...] [--shots 5] [--draws 20]

Rows: raw pixels, the config's network at random initialisation, and each
checkpoint. Bank/queries come from the config's ``val_dataloader`` (a
``KNNDataset``: labelled train images as the bank, val images as queries).
kNN: weighted, k and temperature from ``val_evaluator``. Few-shot: nearest
class mean with ``--shots`` labels per class, mean over ``--draws`` seeded
draws.
"""
import argparse
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from hexa_mm.engine.checkpoint import load_model_weights, load_weights_only
from hexa_mm.evaluation import (extract_features, few_shot_accuracy,
                                knn_accuracy)
from hexa_mm.registry import MODELS
from hexa_mm.utils import ConfigError, register_all_modules


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config with a KNNDataset val set')
    parser.add_argument(
        '--checkpoint',
        nargs='+',
        default=[],
        metavar='NAME=CKPT',
        help='checkpoints to compare, each named (name=path) or bare')
    parser.add_argument('--shots', type=int, default=5)
    parser.add_argument('--draws', type=int, default=20)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='overrides')
    return parser.parse_args()


def measure(model,
            loader,
            knn_cfg: dict,
            args: argparse.Namespace,
            pixels: bool = False) -> dict:
    """kNN top-1 and few-shot accuracy of one representation.

    Args:
        model (nn.Module): The algorithm (its preprocessor is always used).
        loader (DataLoader): Loader of the ``KNNDataset``.
        knn_cfg (dict): ``k`` and ``temperature``.
        args (argparse.Namespace): ``shots``, ``draws``, ``seed``.
        pixels (bool): Measure the normalised pixels instead.

    Returns:
        dict: ``knn`` and ``few_shot`` accuracies in percent.
    """
    feats, labels = extract_features(model, loader, pixels=pixels)
    n_bank = len(loader.dataset.bank)
    bank, bank_labels = feats[:n_bank], labels[:n_bank]
    query, query_labels = feats[n_bank:], labels[n_bank:]
    return dict(
        knn=knn_accuracy(bank, bank_labels, query, query_labels, **knn_cfg),
        few_shot=few_shot_accuracy(bank, bank_labels, query, query_labels,
                                   args.shots, args.draws, args.seed))


def main() -> int:
    """Print the comparison table.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    try:
        names = [item.rpartition('=') for item in args.checkpoint]
        for _, _, path in names:  # refuse a bad file before building
            load_weights_only(path, mmap=True)
        if cfg.get('val_dataloader') is None:
            raise ConfigError(f'{args.config} has no val_dataloader; it '
                              'needs a KNNDataset (bank + queries).')
        loader = Runner.build_dataloader(cfg.val_dataloader)
        evaluator = cfg.get('val_evaluator') or {}
        knn_cfg = dict(
            k=evaluator.get('k', 200),
            temperature=evaluator.get('temperature', 0.07))
        torch.manual_seed(args.seed)
        model = MODELS.build(cfg.model)
        model.init_weights()
        # every checkpoint is loaded (and checked) before anything is measured
        trained = []
        for name, _, path in names:
            weights = MODELS.build(cfg.model)
            load_model_weights(weights, path)
            trained.append((name or path, weights))
        rows = [('raw pixels', measure(model, loader, knn_cfg, args, True)),
                ('random init', measure(model, loader, knn_cfg, args))]
        rows += [(name, measure(weights, loader, knn_cfg, args))
                 for name, weights in trained]
    except (ConfigError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    width = max(len(name) for name, _ in rows)
    print(f'\n{"representation":<{width}}  kNN top-1 (k={knn_cfg["k"]})  '
          f'{args.shots}-shot ({args.draws} draws)')
    for name, res in rows:
        print(f'{name:<{width}}  {res["knn"]:>16.2f}  '
              f'{res["few_shot"]:>17.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
