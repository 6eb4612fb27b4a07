"""The GPU check: what a session lent a GPU machine runs, in one call.

Run through ``tools/analysis/gpu_check.sh``, which first installs the carried
wheels. On one GPU it measures, in turn:

1. MoCo-v2 ResNet-50 train steps at 224 px, batch 32 (the per-GPU batch of
   the ImageNet config), hexa_mm's MoCoV2 against mmpretrain's MoCo, in fp32
   and with AMP: images/s and their ratio
   (``benchmark_mocov2_step.py``);
2. the HEXA_MoCo step against the MoCo-v2 step, same config and weights
   (``benchmark_hexa_step.py``);
3. DeepCluster-v2's clustering at ImageNet's size, 1,281,167 x 128, 3 x 3000
   centroids, 10 iterations, against its matmul floor
   (``benchmark_kmeans.py``);
4. 20 iterations of ``tools/dist_train.sh`` with 1 process (NCCL) of the
   HEXA_MoCo and HEXA_DCluster digits configs (data embedded, no download),
   on port ``PORT`` if set (else one from 29500 to 30499, by process id).

Each part that fails is reported in the table with its error, and the others
still run. The table is printed at the end; the exit status is 1 if any part
failed. ``--dry-run`` runs the same parts at tiny sizes on the CPU (no AMP,
gloo), so that the test suite keeps the script working.
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from glob import glob
from typing import Callable, List, Sequence, Tuple

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HEXA_MOCO_R50 = ('configs/hexa_mocov2/'
                 'hexa-mocov2_resnet50_8xb32-coslr-200e_in1k.py')
HEXA_MOCO_DIGITS = ('configs/hexa_mocov2/'
                    'hexa-mocov2_resnet18_2xb64-coslr-30e_digits.py')
HEXA_DCLUSTER_DIGITS = (
    'configs/hexa_deepclusterv2/'
    'hexa-deepclusterv2_resnet18_2xb64-coslr-30e_digits.py')
IMAGENET_TRAIN = 1_281_167

Row = Tuple[str, str, str]


def parse_args() -> argparse.Namespace:
    """Parse the command line.

    Returns:
        argparse.Namespace: The arguments.
    """
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='tiny sizes on the CPU (what the test suite runs)')
    parser.add_argument(
        '--only',
        nargs='+',
        choices=['moco', 'hexa', 'kmeans', 'dist'],
        help='run only these parts')
    parser.add_argument(
        '--train-timeout',
        type=int,
        default=240,
        help='seconds each dist_train.sh run may take (default: 240)')
    return parser.parse_args()


def sizes(dry_run: bool) -> dict:
    """The problem sizes of each part.

    Args:
        dry_run (bool): Tiny sizes for the CPU.

    Returns:
        dict: Sizes by part.
    """
    if dry_run:
        from hexa_mm.testing import NARROW_RESNET18, cfg_options
        return dict(
            moco=dict(
                depth=18, batch=4, size=16, queue=256, repeats=2, warmup=1),
            hexa=dict(
                config=HEXA_MOCO_DIGITS, batch=4, size=16, repeats=2,
                warmup=1),
            kmeans=dict(num_samples=4000, clusters=1100, sets=1, iters=2),
            dist=dict(
                batch=8,
                images=16,
                dcluster_images=32,
                options=cfg_options(NARROW_RESNET18)))
    return dict(
        moco=dict(
            depth=50, batch=32, size=224, queue=65536, repeats=10, warmup=3),
        hexa=dict(
            config=HEXA_MOCO_R50, batch=32, size=224, repeats=10, warmup=3),
        kmeans=dict(
            num_samples=IMAGENET_TRAIN, clusters=3000, sets=3, iters=10),
        dist=dict(batch=64, images=1280, dcluster_images=1280, options=()))


def part_moco(size: dict, device: str) -> List[Row]:
    """MoCo-v2 train steps, hexa_mm against mmpretrain, fp32 and AMP.

    Args:
        size (dict): ``sizes()['moco']``.
        device (str): The device.

    Returns:
        list[Row]: The rows of the table.
    """
    from benchmark_mocov2_step import measure
    rows = []
    precisions = [False, True] if device == 'cuda' else [False]
    for amp in precisions:
        med = measure(device=device, amp=amp, **size)
        tag = (f'MoCo-v2 R{size["depth"]} {size["size"]}px '
               f'b{size["batch"]} {"amp" if amp else "fp32"}')
        for name, seconds in med.items():
            rows.append((f'{tag} {name}', f'{size["batch"] / seconds:.1f}',
                         f'images/s ({seconds * 1000:.1f} ms/step)'))
        rows.append(
            (f'{tag} hexa_mm / mmpretrain',
             f'{med["hexa_mm"] / med["mmpretrain"]:.3f}', 'step-time ratio'))
    if device != 'cuda':
        rows.append(('MoCo-v2 amp', 'skipped', 'no CUDA'))
    return rows


def part_hexa(size: dict, device: str) -> List[Row]:
    """The HEXA_MoCo step against the MoCo-v2 step.

    Args:
        size (dict): ``sizes()['hexa']``.
        device (str): The device.

    Returns:
        list[Row]: The rows of the table.
    """
    from benchmark_hexa_step import build_variants, random_batch, time_steps
    from mmengine.config import Config

    from hexa_mm import register_all_modules
    register_all_modules()
    cfg = Config.fromfile(osp.join(ROOT, size['config']))
    times = time_steps(
        build_variants(cfg), random_batch(size['batch'], size['size']),
        size['repeats'], size['warmup'], device)
    med = {name: statistics.median(t['wall']) for name, t in times.items()}
    tag = f'HEXA_MoCo {size["size"]}px b{size["batch"]} fp32'
    return [(f'{tag} {name} / plain', f'{med[name] / med["plain"]:.2f}',
             f'{med[name] * 1000:.1f} ms/step') for name in med
            if name != 'plain']


def part_kmeans(size: dict, device: str) -> List[Row]:
    """DeepCluster-v2's clustering against its matmul floor.

    Args:
        size (dict): ``sizes()['kmeans']``.
        device (str): The device.

    Returns:
        list[Row]: The rows of the table.
    """
    from benchmark_kmeans import measure
    fig = measure(device=device, repeats=1, **size)
    tag = (f'k-means {fig["num_samples"]} x {fig["dim"]}, '
           f'{fig["sets"]} x {fig["clusters"]}, {fig["iters"]} it')
    unit = 's' if device == 'cuda' else 'CPU s'
    return [
        (f'{tag}: time', f'{fig["kmeans_s"]:.2f}', f'{unit}, chunk '
         f'{fig["chunk"]} rows, peak {fig["peak_mib"]:.0f} MiB'),
        (f'{tag}: / matmul floor', f'{statistics.median(fig["paired"]):.3f}',
         f'paired median; best times {fig["kmeans_s"]:.2f} / floor '
         f'{fig["floor_s"]:.2f} {unit} at '
         f'{fig["rate"] / 1e12:.2f} TFLOP/s; ' +
         ', '.join(f'{k} {v / fig["floor_s"]:.3f}'
                   for k, v in fig['parts'].items())),
        (f'{tag}: assignments = plain argmax', str(fig['plain_equal']), ''),
    ]


def part_dist(size: dict, timeout: int) -> List[Row]:
    """Short ``tools/dist_train.sh`` runs with one process.

    Args:
        size (dict): ``sizes()['dist']``.
        timeout (int): Seconds each run may take.

    Returns:
        list[Row]: One row per run: its iterations, or its error.
    """
    rows = []
    for config, images in ((HEXA_MOCO_DIGITS, size['images']),
                           (HEXA_DCLUSTER_DIGITS, size['dcluster_images'])):
        name = osp.basename(config).split('_')[0]
        try:
            rows.append(
                _dist_run(config, images, size['batch'], timeout,
                          size['options']))
        except Exception as err:  # report it and go on with the next run
            rows.append((f'dist_train.sh 1 process: {name}', 'FAILED',
                         f'{type(err).__name__}: {err}'))
    return rows


def _dist_run(config: str,
              images: int,
              batch: int,
              timeout: int,
              options: Sequence[str] = ()) -> Row:
    """One epoch of ``images`` images through ``tools/dist_train.sh`` with
    one process.

    Args:
        config (str): The config, relative to the repository.
        images (int): Training images (the first ones of the data set).
        batch (int): Images per iteration.
        timeout (int): Seconds the run may take.
        options (Sequence[str]): Further ``--cfg-options``. Defaults to
            none.

    Returns:
        Row: The row of the table.

    Raises:
        RuntimeError: If the run fails.
    """
    name = osp.basename(config).split('_')[0]
    with tempfile.TemporaryDirectory() as work_dir:
        cmd = [
            'bash', 'tools/dist_train.sh', config, '1', '--no-validate',
            '--work-dir', work_dir, '--cfg-options', 'train_cfg.max_epochs=1',
            f'train_dataloader.batch_size={batch}',
            f'train_dataloader.dataset.indices={images}',
            'default_hooks.logger.interval=1', *options
        ]
        start = time.perf_counter()
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=dict(os.environ,
                     PORT=os.environ.get('PORT',
                                         str(29500 + os.getpid() % 1000))))
        took = time.perf_counter() - start
        log = proc.stdout + proc.stderr
        if proc.returncode != 0:
            tail = log.strip().splitlines()
            raise RuntimeError(f'exit {proc.returncode}: ' +
                               (tail[-1] if tail else ''))
        last = _last_scalars(work_dir)
    # HexaRunner says so when it falls back to gloo (no CUDA)
    backend = 'gloo' if 'gloo backend' in log else 'nccl'
    return (
        f'dist_train.sh 1 process {backend}: {name}',
        f'{last.get("iter")}/{images // batch} it',
        f'{took:.0f} s wall, last loss {last.get("loss", float("nan")):.3f}')


def _last_scalars(work_dir: str) -> dict:
    """The last training record of a run's ``scalars.json``.

    Args:
        work_dir (str): The run's work dir.

    Returns:
        dict: The last record that has a ``loss``, or an empty dict.
    """
    last = {}
    for path in glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:
                    last = record
    return last


def run_part(name: str, fn: Callable[[], List[Row]]) -> List[Row]:
    """Run one part; a failure becomes a row.

    Args:
        name (str): The part's name.
        fn (Callable): The part.

    Returns:
        list[Row]: Its rows, or one row with the error.
    """
    print(f'--- {name}', flush=True)
    start = time.perf_counter()
    try:
        rows = fn()
    except Exception as err:  # report it and go on with the other parts
        traceback.print_exc()
        line = str(err).strip().splitlines()
        rows = [(name, 'FAILED', f'{type(err).__name__}: '
                 f'{line[-1] if line else ""}')]
    for row in rows:
        print('  ' + ' | '.join(row), flush=True)
    print(f'--- {name}: {time.perf_counter() - start:.0f} s', flush=True)
    return rows


def print_table(rows: List[Row]) -> None:
    """Print the rows as one Markdown table.

    Args:
        rows (list[Row]): (check, value, detail) rows.
    """
    print('| check | value | detail |')
    print('| --- | --- | --- |')
    for row in rows:
        print('| ' + ' | '.join(row) + ' |')


def main() -> int:
    """Run the parts and print the table.

    Returns:
        int: 1 if any part failed, else 0.
    """
    args = parse_args()
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    device = 'cpu' if args.dry_run else 'cuda'
    if device == 'cuda' and not torch.cuda.is_available():
        print(
            'error: no CUDA device; use --dry-run on a CPU machine.',
            file=sys.stderr)
        return 2
    size = sizes(args.dry_run)
    parts = dict(
        moco=lambda: part_moco(size['moco'], device),
        hexa=lambda: part_hexa(size['hexa'], device),
        kmeans=lambda: part_kmeans(size['kmeans'], device),
        dist=lambda: part_dist(size['dist'], args.train_timeout))
    import mmengine
    import mmpretrain
    gpu = torch.cuda.get_device_name() if device == 'cuda' else 'none'
    rows = [('environment', device,
             f'GPU {gpu}; Python {sys.version.split()[0]}, torch '
             f'{torch.__version__}, mmengine {mmengine.__version__}, '
             f'mmpretrain {mmpretrain.__version__}')]
    start = time.perf_counter()
    for name, fn in parts.items():
        if args.only is None or name in args.only:
            rows += run_part(name, fn)
    rows.append(('total', f'{time.perf_counter() - start:.0f} s', 'wall'))
    print_table(rows)
    return int(any(row[1] == 'FAILED' for row in rows))


if __name__ == '__main__':
    sys.exit(main())
