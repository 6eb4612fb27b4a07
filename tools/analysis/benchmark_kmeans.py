"""Time one DeepCluster-v2 clustering against the matrix-product floor.

One clustering is what ``DeepClusterHook`` runs at each epoch start:
``spherical_kmeans`` of a memory bank of N unit rows of dimension D for each
of H prototype sets of K centroids, ``iters`` iterations each. Its floor is
the matrix products alone, ``H * N * K * D * 2 * iters`` FLOP, at the GEMM
rate this run measures (the best of the full product ``(N, D) @ (D, K)`` and
of the chunked one k-means uses). The script prints both times, their ratio
(goal: at most 1.3) and the peak memory of the clustering.

Usage::

    OMP_NUM_THREADS=1 python tools/analysis/benchmark_kmeans.py
    python tools/analysis/benchmark_kmeans.py --device cuda
"""
import argparse
import re
import time
from typing import Callable

import torch
import torch.nn.functional as F

from hexa_mm.models.utils import spherical_kmeans


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-samples', type=int, default=100_000)
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--clusters', type=int, default=3000)
    parser.add_argument('--sets', type=int, default=3)
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--chunk-size', type=int, default=4096)
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--gemm-repeats',
        type=int,
        default=3,
        help='timed repeats of each GEMM (the best counts)')
    return parser.parse_args()


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work.

    Args:
        device (torch.device): The device.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes.

    Args:
        fn (Callable): The work.
        device (torch.device): Where it runs.

    Returns:
        float: Wall-clock seconds.
    """
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def rss_mib(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status``.

    Args:
        field (str): ``VmRSS`` (now) or ``VmHWM`` (peak so far).

    Returns:
        float: MiB.
    """
    with open('/proc/self/status') as f:
        kib = re.search(rf'{field}:\s+(\d+) kB', f.read()).group(1)
    return int(kib) / 1024


def main() -> None:
    """Run the benchmark and print its figures."""
    args = parse_args()
    device = torch.device(args.device)
    n, d, k = args.num_samples, args.dim, args.clusters
    gen = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(n, d, generator=gen), dim=1).to(device)

    # warm-up (kernels, allocator) on a tenth of the bank
    spherical_kmeans(
        bank[:n // 10], min(k, n // 10), 1, chunk_size=args.chunk_size)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device) / 2**20
    else:
        # reset the peak (VmHWM) to the current resident size
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        before = rss_mib('VmRSS')
    empty = []

    def cluster() -> None:
        for h in range(args.sets):
            result = spherical_kmeans(
                bank, k, args.iters, seed=h, chunk_size=args.chunk_size)
            empty.append(result.num_empty)

    kmeans_s = timed(cluster, device)
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**20 - before
    else:
        peak = rss_mib('VmHWM') - before

    centroids = bank[torch.randperm(n, generator=gen)[:k].to(device)]
    full = torch.empty(n, k, device=device)
    chunk = torch.empty(min(args.chunk_size, n), k, device=device)

    def full_gemm() -> None:
        torch.mm(bank, centroids.t(), out=full)

    def chunked_gemm() -> None:
        for start in range(0, n, args.chunk_size):
            rows = bank[start:start + args.chunk_size]
            torch.mm(rows, centroids.t(), out=chunk[:rows.shape[0]])

    flop = 2 * n * k * d
    rates = {}
    for name, fn in (('full', full_gemm), ('chunked', chunked_gemm)):
        fn()
        rates[name] = flop / min(
            timed(fn, device) for _ in range(args.gemm_repeats))
    rate = max(rates.values())
    floor_s = args.sets * args.iters * flop / rate

    print(f'bank {n} x {d}, {args.sets} x {k} centroids, {args.iters} '
          f'iterations, chunk {args.chunk_size}, device {device}, '
          f'{torch.get_num_threads()} CPU threads')
    print(f'GEMM rate: full {rates["full"] / 1e9:.1f} GFLOP/s, chunked '
          f'{rates["chunked"] / 1e9:.1f} GFLOP/s')
    print(f'clustering: {kmeans_s:.2f} s; matmul floor '
          f'({args.sets} x {args.iters} x 2NKD FLOP): {floor_s:.2f} s; '
          f'ratio {kmeans_s / floor_s:.3f} (goal <= 1.3)')
    print(f'peak memory of the clustering: {peak:.0f} MiB above the bank '
          f'({n * d * 4 / 2**20:.0f} MiB); empty clusters per set: {empty}')


if __name__ == '__main__':
    main()
