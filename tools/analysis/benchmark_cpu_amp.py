"""Time a MoCo-v2 training step on the CPU: float32 / bfloat16 autocast.

    python tools/analysis/benchmark_cpu_amp.py [--depth 18] [--batch 16]
        [--size 32] [--repeats 5] [--warmup 2]

The step (forward, loss, backward, SGD update) runs through an
``OptimWrapper`` (float32) and a ``CPUAmpOptimWrapper`` (what ``--amp``
becomes without a GPU) on two copies of one model, alternately in one
process after a warm-up; the medians are compared. On a CPU without native
bfloat16 (oneDNN reports none, e.g. AVX2 only), autocast emulates it and the
step is many times slower, which is why ``HexaRunner`` refuses ``--amp``
there.
"""
import argparse
import copy
import statistics
import time

import torch
from mmengine.optim import OptimWrapper

from hexa_mm import register_all_modules
from hexa_mm.engine import CPUAmpOptimWrapper
from hexa_mm.registry import MODELS


def step(model: torch.nn.Module, wrapper: OptimWrapper, views: list) -> float:
    """One timed training step.

    Args:
        model (nn.Module): The algorithm.
        wrapper (OptimWrapper): Its optimizer wrapper.
        views (list[torch.Tensor]): The two views.

    Returns:
        float: Seconds taken.
    """
    start = time.perf_counter()
    with wrapper.optim_context(model):
        loss = sum(model.loss(views, None).values())
    wrapper.update_params(loss)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--depth', type=int, default=18)
    parser.add_argument('--batch', type=int, default=16)
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    args = parser.parse_args()
    register_all_modules()
    torch.manual_seed(0)
    width = 512 if args.depth < 50 else 2048
    fp32 = MODELS.build(
        dict(
            type='MoCoV2',
            queue_len=1024,
            backbone=dict(type='ResNet', depth=args.depth),
            neck=dict(
                type='MoCoV2Neck',
                in_channels=width,
                hid_channels=width,
                out_channels=128,
                with_avg_pool=True)))
    bf16 = copy.deepcopy(fp32)
    runs = {
        'float32':
        (fp32, OptimWrapper(torch.optim.SGD(fp32.parameters(), lr=0.03))),
        'bfloat16':
        (bf16,
         CPUAmpOptimWrapper(
             optimizer=torch.optim.SGD(bf16.parameters(), lr=0.03))),
    }
    views = [
        torch.randn(args.batch, 3, args.size, args.size) for _ in range(2)
    ]
    times = {name: [] for name in runs}
    for i in range(args.warmup + args.repeats):
        order = list(runs) if i % 2 == 0 else list(reversed(runs))
        for name in order:
            took = step(*runs[name], views)
            if i >= args.warmup:
                times[name].append(took)
    med = {name: statistics.median(t) for name, t in times.items()}
    print(f'MoCo-v2 ResNet-{args.depth}, batch {args.batch} x 2 views at '
          f'{args.size} px, {args.repeats} repeats after {args.warmup} '
          f'warm-up, {torch.get_num_threads()} threads, CPU capability '
          f'{torch.backends.cpu.get_cpu_capability()}, native bfloat16: '
          f'{CPUAmpOptimWrapper.native_bfloat16()}')
    for name, value in med.items():
        print(f'  {name:<9} median step {value * 1000:9.1f} ms')
    print(f'ratio bfloat16 / float32: {med["bfloat16"] / med["float32"]:.2f}')


if __name__ == '__main__':
    main()
