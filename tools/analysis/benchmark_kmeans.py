"""Time one DeepCluster-v2 clustering against the matrix-product floor.

One clustering is what ``DeepClusterHook`` runs at each epoch start:
``spherical_kmeans`` of a memory bank of N unit rows of dimension D for each
of H prototype sets of K centroids, ``iters`` iterations each. Its floor is
the matrix products alone, ``H * N * K * D * 2 * iters`` FLOP. Each set's
k-means is timed ``--repeats`` times, each time followed by one pass of its
products (chunks of the old default of 4096 rows and of the chunk size
k-means uses, the faster counts): the goal (at most 1.3) is the median of
these paired ratios, which share the machine's load of their moment. The
script also prints the sum of the best times against the floor at the best
GEMM rate of the run (the full product ``(N, D) @ (D, K)`` included), and
the parts of that time, measured apart: the ``iters + 1`` chunked products
(k-means ends with an E step for the final centroids, as the reference
does), the argmax of their scores, the M step and the rest. It checks that
the assignments are those of a plain ``torch.argmax`` over the final
centroids' scores, and prints the peak memory of the clustering.
``--sweep`` times one E step at other chunk sizes (how the default was
chosen).

On the CPU, times are the CPU time of this process, so that other jobs on
the machine skew the ratio less (run it with one thread); on a GPU they are
wall-clock times. Every time is the best of ``--repeats`` runs (the
clustering: of each prototype set).

Usage::

    OMP_NUM_THREADS=1 python tools/analysis/benchmark_kmeans.py
    OMP_NUM_THREADS=1 python tools/analysis/benchmark_kmeans.py \\
        --sweep 256,512,1024,4096
    python tools/analysis/benchmark_kmeans.py --device cuda \\
        --num-samples 1281167
"""
import argparse
import re
import statistics
import time
from typing import Callable, List, Optional, Sequence

import torch
import torch.nn.functional as F

from hexa_mm.models.utils import spherical_kmeans
from hexa_mm.models.utils.kmeans import (ChunkArgmax, _update,
                                         default_chunk_size)

OLD_CHUNK = 4096


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
    parser.add_argument(
        '--chunk-size',
        type=int,
        default=None,
        help='rows scored at a time (default: k-means\' own default)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--repeats',
        type=int,
        default=3,
        help='runs of each timed part; the best counts (default: 3)')
    parser.add_argument(
        '--sweep',
        type=lambda s: [int(v) for v in s.split(',')],
        default=[],
        help='comma-separated chunk sizes at which to time one E step')
    return parser.parse_args()


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work.

    Args:
        device (torch.device): The device.
    """
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def clock(device: torch.device) -> float:
    """The time now, after the device's queued work: CPU time of this
    process on the CPU, wall-clock time on a GPU.

    Args:
        device (torch.device): The device.

    Returns:
        float: Seconds.
    """
    synchronize(device)
    if device.type == 'cuda':
        return time.perf_counter()
    return time.process_time()


def best_time(fn: Callable[[], object], device: torch.device,
              repeats: int) -> float:
    """Seconds one call of ``fn`` takes (see :func:`clock`), the best of
    ``repeats``.

    Args:
        fn (Callable): The work.
        device (torch.device): Where it runs.
        repeats (int): Timed calls.

    Returns:
        float: Seconds.
    """
    best = float('inf')
    for _ in range(repeats):
        start = clock(device)
        fn()
        best = min(best, clock(device) - start)
    return best


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


def reset_peak(device: torch.device) -> float:
    """Restart the peak-memory count at the current use.

    Args:
        device (torch.device): The device.

    Returns:
        float: The current use, MiB.
    """
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        return torch.cuda.memory_allocated(device) / 2**20
    # reset the peak (VmHWM) to the current resident size
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')
    return rss_mib('VmRSS')


def peak(device: torch.device) -> float:
    """The peak memory use since :func:`reset_peak`.

    Args:
        device (torch.device): The device.

    Returns:
        float: MiB.
    """
    if device.type == 'cuda':
        return torch.cuda.max_memory_allocated(device) / 2**20
    return rss_mib('VmHWM')


def product_pass(bank: torch.Tensor, centroids: torch.Tensor,
                 chunk: int) -> Callable[[], None]:
    """One pass of chunked matrix products over the bank.

    Args:
        bank (torch.Tensor): The rows, (N, D).
        centroids (torch.Tensor): Centroids, (K, D).
        chunk (int): Rows at a time.

    Returns:
        Callable: The pass.
    """
    n, k = bank.shape[0], centroids.shape[0]
    scores = bank.new_empty(min(chunk, n), k)

    def products() -> None:
        for start in range(0, n, chunk):
            rows = bank[start:start + chunk]
            torch.mm(rows, centroids.t(), out=scores[:rows.shape[0]])

    return products


def passes(bank: torch.Tensor, centroids: torch.Tensor, chunk: int,
           device: torch.device, repeats: int) -> List[float]:
    """One pass of chunked products over the bank, without and with the
    argmax of k-means' E step.

    Args:
        bank (torch.Tensor): The rows, (N, D).
        centroids (torch.Tensor): Centroids, (K, D).
        chunk (int): Rows at a time.
        device (torch.device): Where they are.
        repeats (int): Timed runs.

    Returns:
        list[float]: Seconds of the products alone and of the E step.
    """
    n, k = bank.shape[0], centroids.shape[0]
    argmax = ChunkArgmax(min(chunk, n), k, bank)
    out = torch.empty(n, dtype=torch.long, device=device)

    def e_step() -> None:
        for start in range(0, n, chunk):
            argmax(bank[start:start + chunk], centroids,
                   out[start:start + chunk])

    return [
        best_time(fn, device, repeats)
        for fn in (product_pass(bank, centroids, chunk), e_step)
    ]


def measure(num_samples: int = 100_000,
            dim: int = 128,
            clusters: int = 3000,
            sets: int = 3,
            iters: int = 10,
            chunk_size: Optional[int] = None,
            device: str = 'cpu',
            repeats: int = 3,
            sweep: Sequence[int] = ()) -> dict:
    """Time one clustering, its floor and its parts.

    Args:
        num_samples (int): Rows of the bank N. Defaults to 100 000.
        dim (int): Their dimension D. Defaults to 128.
        clusters (int): Centroids per set K. Defaults to 3000.
        sets (int): Prototype sets H. Defaults to 3.
        iters (int): k-means iterations. Defaults to 10.
        chunk_size (int, optional): Rows scored at a time. Defaults to
            k-means' own default.
        device (str): The device. Defaults to ``'cpu'``.
        repeats (int): Runs of each timed part. Defaults to 3.
        sweep (Sequence[int]): Other chunk sizes at which to time an E step.

    Returns:
        dict: The figures :func:`report` prints.
    """
    device = torch.device(device)
    n, d, k = num_samples, dim, clusters
    chunk = chunk_size or default_chunk_size(k, device)
    gen = torch.Generator().manual_seed(0)
    bank = F.normalize(torch.randn(n, d, generator=gen), dim=1).to(device)

    # warm-up (kernels, allocator) on a tenth of the bank
    spherical_kmeans(bank[:n // 10], min(k, n // 10), 1, chunk_size=chunk)
    results, kmeans_s, paired, peak_mib = {}, 0., [], 0.
    for h in range(sets):
        best = float('inf')
        for _ in range(repeats):
            before = reset_peak(device)
            start = clock(device)
            results[h] = spherical_kmeans(
                bank, k, iters, seed=h, chunk_size=chunk)
            took = clock(device) - start
            peak_mib = max(peak_mib, peak(device) - before)
            best = min(best, took)
            # its floor, timed right after it: the pair shares the moment's
            # load on the machine
            product = min(
                best_time(
                    product_pass(bank, results[h].centroids, size), device, 1)
                for size in {chunk, OLD_CHUNK})
            paired.append(took / (iters * product))
        kmeans_s += best
    results = [results[h] for h in range(sets)]

    # the same chunks, so that the same products are compared
    plain_equal = all(
        torch.equal(
            r.assignments,
            torch.cat([
                torch.argmax(rows @ r.centroids.t(), dim=1)
                for rows in bank.split(chunk)
            ])) for r in results)
    centroids = results[0].centroids
    flop = 2 * n * k * d
    full = torch.empty(n, k, device=device)
    rates = dict(full=flop / best_time(
        lambda: torch.mm(bank, centroids.t(), out=full), device, repeats))
    del full
    sweeps = {}
    for size in sorted({chunk, OLD_CHUNK, *sweep}):
        sweeps[size] = passes(bank, centroids, size, device, repeats)
        if size in (chunk, OLD_CHUNK):
            rates[f'chunk {size}'] = flop / sweeps[size][0]
    rate = max(rates.values())
    floor_s = sets * iters * flop / rate
    products_s, e_step_s = sweeps[chunk]
    m_step_s = best_time(
        lambda: _update(bank, results[0].assignments, centroids), device,
        repeats)
    parts = dict(
        products=sets * (iters + 1) * products_s,
        argmax=sets * (iters + 1) * (e_step_s - products_s),
        m_step=sets * iters * m_step_s)
    parts['rest'] = kmeans_s - sum(parts.values())
    return dict(
        num_samples=n,
        dim=d,
        clusters=k,
        sets=sets,
        iters=iters,
        chunk=chunk,
        device=device,
        repeats=repeats,
        kmeans_s=kmeans_s,
        floor_s=floor_s,
        paired=sorted(paired),
        rate=rate,
        rates=rates,
        parts=parts,
        peak_mib=peak_mib,
        empty=[r.num_empty for r in results],
        plain_equal=plain_equal,
        sweep={
            size: (p / (flop / rate), e / (flop / rate))
            for size, (p, e) in sweeps.items()
        })


def report(fig: dict) -> None:
    """Print the figures of :func:`measure`.

    Args:
        fig (dict): The figures.
    """
    unit = 'CPU s' if fig['device'].type == 'cpu' else 's'
    floor_s = fig['floor_s']
    print(f'bank {fig["num_samples"]} x {fig["dim"]}, {fig["sets"]} x '
          f'{fig["clusters"]} centroids, {fig["iters"]} iterations, chunk '
          f'{fig["chunk"]} rows, device {fig["device"]}, '
          f'{torch.get_num_threads()} CPU threads, best of {fig["repeats"]}')
    print('GEMM rate (GFLOP/s): ' +
          ', '.join(f'{name} {value / 1e9:.1f}'
                    for name, value in fig['rates'].items()))
    paired = fig['paired']
    print(f'clustering: {fig["kmeans_s"]:.2f} {unit}; matmul floor '
          f'({fig["sets"]} x {fig["iters"]} x 2NKD FLOP): {floor_s:.2f} '
          f'{unit}; ratio {fig["kmeans_s"] / floor_s:.3f}')
    print(f'ratio of each clustering to the floor timed right after it: '
          f'median {statistics.median(paired):.3f} (goal <= 1.3), of '
          f'{", ".join(f"{r:.3f}" for r in paired)}')
    print('parts (fraction of the floor): ' +
          ', '.join(f'{name} {value / floor_s:.3f}'
                    for name, value in fig['parts'].items()))
    print(f'peak memory of the clustering: {fig["peak_mib"]:.0f} MiB above '
          f'the bank ({fig["num_samples"] * fig["dim"] * 4 / 2**20:.0f} '
          f'MiB); empty clusters per set: {fig["empty"]}; assignments equal '
          f'a plain argmax of the final scores: {fig["plain_equal"]}')
    print('one E step by chunk size (fraction of one product at the floor '
          'rate): rows, products alone, with the argmax')
    for size, (products, e_step) in fig['sweep'].items():
        print(f'  {size:>7} {products:6.3f} {e_step:6.3f}')


def main() -> None:
    """Run the benchmark and print its figures."""
    args = parse_args()
    report(
        measure(args.num_samples, args.dim, args.clusters, args.sets,
                args.iters, args.chunk_size, args.device, args.repeats,
                args.sweep))


if __name__ == '__main__':
    main()
