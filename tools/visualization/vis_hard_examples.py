"""Draw HEXA's hard examples for a few training images.

    python tools/visualization/vis_hard_examples.py CONFIG \
        [--checkpoint CKPT] --out FILE.png [--num 4] [--batch 32] [--seed 0]

One row per image: the clean source view, its adversarial view, the
perturbation (amplified so that ±ε spans black to white, with ε in grey
levels) and its CutMix view (the partner's box outlined, with λ). The views
come from the config's train pipeline and preprocessor; the attack and the
mixing use the config's generators (their defaults where the config has
none, e.g. a MoCo-v2 config), on the checkpoint's weights (random
initialisation without one), in training mode on a batch of ``--batch``
images, as in a training step.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional, Tuple

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import default_collate  # noqa: E402
from mmengine.logging import MMLogger  # noqa: E402

from hexa_mm import register_all_modules  # noqa: E402
from hexa_mm.engine.checkpoint import load_model_weights  # noqa: E402
from hexa_mm.models import (  # noqa: E402
    AdversarialHardExample, BankClustering, CutMixHardExample)
from hexa_mm.registry import DATASETS, MODELS  # noqa: E402
from hexa_mm.utils import ConfigError, tool_main  # noqa: E402


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='a training config')
    parser.add_argument('--checkpoint', help='weights (default: random init)')
    parser.add_argument('--out', required=True, help='the PNG to write')
    parser.add_argument('--num', type=int, default=4, help='images drawn')
    parser.add_argument(
        '--batch', type=int, default=32, help='images in the attacked batch')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, help='overrides')
    return parser.parse_args()


def find_generators(
    model: torch.nn.Module
) -> Tuple[AdversarialHardExample, CutMixHardExample]:
    """The model's adversarial and CutMix generators, defaults if absent.

    Args:
        model (nn.Module): The algorithm.

    Returns:
        tuple: The adversarial and the CutMix generator.
    """
    adv: Optional[AdversarialHardExample] = None
    cutmix: Optional[CutMixHardExample] = None
    for generator in model.hard_examples:
        if isinstance(generator, AdversarialHardExample) and adv is None:
            adv = generator
        if isinstance(generator, CutMixHardExample) and cutmix is None:
            cutmix = generator
    if adv is None:
        adv = AdversarialHardExample()
        adv.check_algorithm(model)
    return adv, cutmix or CutMixHardExample()


def load_weights_and_clusters(model: torch.nn.Module, path: str) -> None:
    """Load a checkpoint's weights (with weights only; the backbone must fit)
    and, if it holds them, the cluster assignments that DeepClusterHook
    saved (DeepCluster-v2's pseudo-labels).

    Args:
        model (nn.Module): The algorithm.
        path (str): The checkpoint.
    """
    checkpoint = load_model_weights(model, path)
    if isinstance(model, BankClustering):
        state = model.saved_clusters(checkpoint)
        if state is not None:
            model.restore_clusters(state)


def to_image(view: torch.Tensor, mean: torch.Tensor,
             std: torch.Tensor) -> np.ndarray:
    """A normalised view as an (H, W, 3) image in [0, 1].

    Args:
        view (torch.Tensor): (3, H, W), normalised.
        mean (torch.Tensor): (1, 3, 1, 1) pixel mean.
        std (torch.Tensor): (1, 3, 1, 1) pixel std.

    Returns:
        np.ndarray: The image.
    """
    pixels = view.unsqueeze(0) * std + mean
    return pixels[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()


def draw(rows: List[dict], eps: float, title: str, out: str) -> None:
    """Draw and save the figure.

    Args:
        rows (list[dict]): Per image: ``clean``, ``adv``, ``delta`` (pixel
            units), ``cutmix`` images, ``box`` (y1, y2, x1, x2) and ``lam``.
        eps (float): The attack's ε in pixel units.
        title (str): The figure title.
        out (str): The PNG path.
    """
    heads = [
        'clean view', 'adversarial view',
        f'perturbation ×{0.5 / eps:.0f} (ε = {eps * 255:.3g}/255)',
        'CutMix view'
    ]
    fig, axes = plt.subplots(
        len(rows), 4, figsize=(10, 2.6 * len(rows)), squeeze=False)
    for r, row in enumerate(rows):
        delta = 0.5 + row['delta'] / (2 * eps)
        images = [row['clean'], row['adv'], delta.clip(0, 1), row['cutmix']]
        for c, image in enumerate(images):
            ax = axes[r][c]
            ax.imshow(image, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(heads[c], fontsize=9)
        y1, y2, x1, x2 = row['box']
        if y2 > y1 and x2 > x1:
            axes[r][3].add_patch(
                Rectangle((x1 - 0.5, y1 - 0.5),
                          x2 - x1,
                          y2 - y1,
                          fill=False,
                          edgecolor='red',
                          linewidth=1.5))
        axes[r][3].set_xlabel(f'λ = {row["lam"]:.2f}', fontsize=9)
        axes[r][2].set_xlabel(
            f'max |δ| = {np.abs(row["delta"]).max() * 255:.3g}/255',
            fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


@tool_main
def main() -> int:
    """Make the hard examples and write the figure.

    Returns:
        int: The exit status.
    """
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    register_all_modules()
    MMLogger.get_instance('vis_hard_examples', log_level='WARNING')
    if args.num < 1 or args.batch < max(2, args.num):
        raise ConfigError(f'--num {args.num} must be >= 1 and --batch '
                          f'{args.batch} >= max(2, --num).')
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    if args.checkpoint:
        load_weights_and_clusters(model, args.checkpoint)
    elif isinstance(model, BankClustering):
        raise ConfigError(
            f'{type(model).__name__} needs --checkpoint: its '
            'pseudo-labels are the cluster assignments a DeepClusterHook '
            'run saved.')
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    if len(dataset) < args.batch:
        raise ConfigError(f'--batch {args.batch} is larger than the '
                          f'data set ({len(dataset)} images).')
    picks = np.random.permutation(len(dataset))[:args.batch]
    data = model.data_preprocessor(
        default_collate([dataset[int(i)] for i in picks]), True)
    model.train()
    inputs, samples = data['inputs'], data['data_samples']
    adv, cutmix = find_generators(model)
    labels = model.view_labels(inputs, samples)
    clean = model.clean_pass(inputs, labels, adv.needs_clean_grads)[1]
    source = clean.views[0]
    adv_view = adv(model, clean, labels)[0][0]
    mixed = cutmix.mix([source])
    mean, std = (t.to(source) for t in model.pixel_scale())
    rows = []
    for i in range(args.num):
        rows.append(
            dict(
                clean=to_image(source[i], mean, std),
                adv=to_image(adv_view[i], mean, std),
                delta=((adv_view[i] - source[i]) * std[0]).permute(
                    1, 2, 0).cpu().numpy(),
                cutmix=to_image(mixed.views[0][i], mean, std),
                box=mixed.boxes[i].tolist(),
                lam=float(mixed.lam[i])))
    weights = osp.basename(args.checkpoint) if args.checkpoint else \
        'random init'
    draw(
        rows, adv.eps,
        f'{osp.basename(args.config)} ({weights}); {adv.steps}-step '
        f'attack, CutMix α = {cutmix.alpha:g}', args.out)
    print(f'hard examples written to {args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
