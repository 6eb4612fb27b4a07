"""Time a MoCo-v2 training step: hexa_mm's MoCoV2 / mmpretrain's MoCo.

    python tools/analysis/benchmark_mocov2_step.py [--depth 18] [--batch 32]
        [--size 64] [--repeats 10] [--warmup 3] [--queue 4096]
        [--device cuda] [--amp]

Both models get the same backbone, neck, weights, queue and inputs; a step
is mmengine's ``train_step`` (data preprocessing, loss, backward, SGD update,
momentum encoder), in fp32 or with ``--amp`` (``AmpOptimWrapper``, CUDA
only). The two are timed alternately in one process (warm-up first), and
the medians are compared; images/s counts images (each with 2 views) per
second of wall-clock time.
"""
import argparse
import statistics
from typing import Dict

import torch
from benchmark_hexa_step import random_batch, time_steps

from hexa_mm import register_all_modules
from hexa_mm.registry import MODELS


def build_pair(depth: int, queue: int) -> Dict[str, torch.nn.Module]:
    """hexa_mm's MoCoV2 and mmpretrain's MoCo with identical state.

    Args:
        depth (int): ResNet depth.
        queue (int): Queue length.

    Returns:
        dict[str, nn.Module]: ``hexa_mm`` and ``mmpretrain``.
    """
    width = 512 if depth < 50 else 2048
    backbone = dict(type='ResNet', depth=depth)
    neck = dict(
        type='MoCoV2Neck',
        in_channels=width,
        hid_channels=width,
        out_channels=128,
        with_avg_pool=True)
    ours = MODELS.build(
        dict(type='MoCoV2', queue_len=queue, backbone=backbone, neck=neck))
    ref = MODELS.build(
        dict(
            type='mmpretrain.MoCo',
            queue_len=queue,
            backbone=backbone,
            neck=neck,
            head=dict(
                type='ContrastiveHead',
                loss=dict(type='CrossEntropyLoss'),
                temperature=0.2)))
    ref.load_state_dict(ours.state_dict(), strict=False)
    ref.queue.copy_(ours.queue)
    return dict(hexa_mm=ours, mmpretrain=ref)


def measure(depth: int = 18,
            batch: int = 32,
            size: int = 64,
            queue: int = 4096,
            repeats: int = 10,
            warmup: int = 3,
            device: str = 'cpu',
            amp: bool = False) -> Dict[str, float]:
    """Median step times of both models.

    Args:
        depth (int): ResNet depth. Defaults to 18.
        batch (int): Images per step. Defaults to 32.
        size (int): View size in pixels. Defaults to 64.
        queue (int): Queue length. Defaults to 4096.
        repeats (int): Timed steps per model. Defaults to 10.
        warmup (int): Untimed steps per model. Defaults to 3.
        device (str): The device. Defaults to ``'cpu'``.
        amp (bool): Mixed precision. Defaults to False.

    Returns:
        dict[str, float]: Median wall-clock seconds per step, by model.
    """
    register_all_modules()
    torch.manual_seed(0)
    models = build_pair(depth, queue)
    times = time_steps(models, random_batch(batch, size), repeats, warmup,
                       device, amp)
    return {name: statistics.median(t['wall']) for name, t in times.items()}


def main() -> None:
    """Run the benchmark and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--queue', type=int, default=4096)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--amp', action='store_true')
    args = parser.parse_args()
    med = measure(args.depth, args.batch, args.size, args.queue, args.repeats,
                  args.warmup, args.device, args.amp)
    print(f'ResNet-{args.depth}, batch {args.batch} x 2 views at '
          f'{args.size} px, queue {args.queue}, {args.device}'
          f'{" amp" if args.amp else ""}, {args.repeats} repeats after '
          f'{args.warmup} warm-up, {torch.get_num_threads()} threads')
    for name, value in med.items():
        print(f'  {name:<10} median step {value * 1000:8.1f} ms, '
              f'{args.batch / value:8.1f} images/s')
    print(
        f'ratio hexa_mm / mmpretrain: {med["hexa_mm"] / med["mmpretrain"]:.3f}'
    )


if __name__ == '__main__':
    main()
