"""Time a MoCo-v2 training step: hexa_mm's MoCoV2 / mmpretrain's MoCo.

    python tools/analysis/benchmark_mocov2_step.py [--depth 18] [--batch 32]
        [--size 64] [--repeats 10] [--warmup 3] [--queue 4096]

Both models get the same backbone, neck, weights, queue and inputs; a step
is forward (loss) + backward + SGD update. The two are timed alternately in
one process (warm-up first), and the medians are compared.
"""
import argparse
import statistics
import time

import torch

from hexa_mm.registry import MODELS
from hexa_mm.utils import register_all_modules


def build_pair(depth: int, queue: int) -> tuple:
    """hexa_mm's MoCoV2 and mmpretrain's MoCo with identical state.

    Args:
        depth (int): ResNet depth.
        queue (int): Queue length.

    Returns:
        tuple: (ours, reference).
    """
    width = 512 if depth < 50 else 2048
    backbone = dict(type='ResNet', depth=depth)
    neck = dict(type='MoCoV2Neck', in_channels=width, hid_channels=width,
                out_channels=128, with_avg_pool=True)
    ours = MODELS.build(dict(type='MoCoV2', queue_len=queue, backbone=backbone,
                             neck=neck))
    ref = MODELS.build(
        dict(type='mmpretrain.MoCo', queue_len=queue, backbone=backbone,
             neck=neck,
             head=dict(type='ContrastiveHead',
                       loss=dict(type='CrossEntropyLoss'), temperature=0.2)))
    ref.load_state_dict(ours.state_dict(), strict=False)
    ref.queue.copy_(ours.queue)
    return ours, ref


def step(model: torch.nn.Module, optim: torch.optim.Optimizer,
         views: list) -> float:
    """One timed training step.

    Args:
        model (nn.Module): The algorithm.
        optim (Optimizer): Its optimiser.
        views (list[torch.Tensor]): The two views.

    Returns:
        float: Seconds taken.
    """
    start = time.perf_counter()
    loss = sum(model.loss(views, None).values())
    optim.zero_grad()
    loss.backward()
    optim.step()
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--size', type=int, default=64)
    parser.add_argument('--queue', type=int, default=4096)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args()
    register_all_modules()
    torch.manual_seed(0)
    ours, ref = build_pair(args.depth, args.queue)
    models = dict(hexa_mm=ours, mmpretrain=ref)
    optims = {
        name: torch.optim.SGD(m.parameters(), lr=0.03, momentum=0.9)
        for name, m in models.items()
    }
    views = [torch.randn(args.batch, 3, args.size, args.size)
             for _ in range(2)]
    times = {name: [] for name in models}
    for i in range(args.warmup + args.repeats):
        order = list(models) if i % 2 == 0 else list(reversed(models))
        for name in order:
            took = step(models[name], optims[name], views)
            if i >= args.warmup:
                times[name].append(took)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f'ResNet-{args.depth}, batch {args.batch} x 2 views at '
          f'{args.size} px, queue {args.queue}, {args.repeats} repeats '
          f'after {args.warmup} warm-up, {torch.get_num_threads()} threads')
    for name, value in med.items():
        print(f'  {name:<10} median step {value * 1000:8.1f} ms')
    print(f'ratio hexa_mm / mmpretrain: {med["hexa_mm"] / med["mmpretrain"]:.3f}')


if __name__ == '__main__':
    main()
