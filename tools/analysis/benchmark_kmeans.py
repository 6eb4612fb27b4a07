"""Time one DeepCluster-v2 clustering against the matrix-product floor.

One clustering is what ``DeepClusterHook`` runs at each epoch start:
``spherical_kmeans`` of a memory bank of N unit rows of dimension D for each
of H prototype sets of K centroids, ``iters`` iterations each. Its floor is
the matrix products alone, ``H * N * K * D * 2 * iters`` FLOP, at the GEMM
rate this run measures (the best of the full product ``(N, D) @ (D, K)`` and
of the chunked one k-means uses). The script prints both times, their ratio
(goal: at most 1.3), where the time beyond the floor goes (the extra final E
step, the argmax of the scores, the M step) and the peak memory of the
clustering.

On the CPU, times are the CPU time of this process, so that other jobs on
the machine do not skew the ratio (run it with one thread); on a GPU they are
wall-clock times.

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
    """Seconds one call of ``fn`` takes: CPU time of this process on the
    CPU, wall-clock time on a GPU.

    Args:
        fn (Callable): The work.
        device (torch.device): Where it runs.

    Returns:
        float: Seconds.
    """
    clock = time.perf_counter if device.type == 'cuda' else time.process_time
    synchronize(device)
    start = clock()
    fn()
    synchronize(device)
    return clock() - start


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
    labels = torch.randint(k, (n, ), generator=gen).to(device)
    chunks = [(start, bank[start:start + args.chunk_size])
              for start in range(0, n, args.chunk_size)]

    def full_gemm() -> None:
        torch.mm(bank, centroids.t(), out=full)

    def chunked_gemm() -> None:
        for _, rows in chunks:
            torch.mm(rows, centroids.t(), out=chunk[:rows.shape[0]])

    def argmax() -> None:
        for _, rows in chunks:
            torch.argmax(chunk[:rows.shape[0]], dim=1)

    def m_step() -> None:
        sums = torch.zeros(k, d, dtype=torch.float64, device=device)
        for start, rows in chunks:
            part = labels[start:start + rows.shape[0]]
            sums.index_add_(0, part, rows.double())
            torch.bincount(part, minlength=k)

    def best(fn: Callable[[], None]) -> float:
        fn()
        return min(timed(fn, device) for _ in range(args.gemm_repeats))

    flop = 2 * n * k * d
    rates = {
        name: flop / best(fn)
        for name, fn in (('full', full_gemm), ('chunked', chunked_gemm))
    }
    rate = max(rates.values())
    floor_s = args.sets * args.iters * flop / rate
    one_gemm_s = flop / rate
    extra = dict(
        final_e_step=args.sets * one_gemm_s,
        argmax=args.sets * (args.iters + 1) * best(argmax),
        m_step=args.sets * args.iters * best(m_step))

    unit = 'CPU s' if device.type == 'cpu' else 's'
    print(f'bank {n} x {d}, {args.sets} x {k} centroids, {args.iters} '
          f'iterations, chunk {args.chunk_size}, device {device}, '
          f'{torch.get_num_threads()} CPU threads')
    print(f'GEMM rate: full {rates["full"] / 1e9:.1f} GFLOP/s, chunked '
          f'{rates["chunked"] / 1e9:.1f} GFLOP/s')
    print(f'clustering: {kmeans_s:.2f} {unit}; matmul floor '
          f'({args.sets} x {args.iters} x 2NKD FLOP): {floor_s:.2f} {unit}; '
          f'ratio {kmeans_s / floor_s:.3f} (goal <= 1.3)')
    print('beyond the floor, measured apart (fraction of the floor): ' +
          ', '.join(f'{name} {value / floor_s:.3f}'
                    for name, value in extra.items()))
    print(f'peak memory of the clustering: {peak:.0f} MiB above the bank '
          f'({n * d * 4 / 2**20:.0f} MiB); empty clusters per set: {empty}')


if __name__ == '__main__':
    main()
