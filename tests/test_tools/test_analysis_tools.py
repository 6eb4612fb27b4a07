"""The GPU check (its CPU dry run, the wheels it carries, its refusal
without CUDA) and the DeepCluster-v2 overhead benchmark."""
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict

import pytest
import torch

from forkrun import python_env, run_python, start_python
from hexa_mm.testing import free_port

ROOT = Path(__file__).resolve().parents[2]


def pins(path: Path) -> Dict[str, str]:
    """The ``name==version`` lines of a requirements file.

    Args:
        path (Path): The file.

    Returns:
        dict[str, str]: Version by normalised name.
    """
    found = {}
    for line in path.read_text().splitlines():
        line = line.split('#')[0].strip()
        if '==' in line:
            name, version = line.split('==')
            found[re.sub(r'[-_.]+', '-', name).lower()] = version
    return found


def env(**extra: str) -> dict:
    """The environment of a tool run: this interpreter, one thread, no GPU.

    Returns:
        dict: The environment.
    """
    return dict(
        os.environ,
        PYTHON=sys.executable,
        OMP_NUM_THREADS='1',
        CUDA_VISIBLE_DEVICES='',
        PYTHONPATH=str(ROOT),
        **extra)


def test_gpu_wheels_are_the_tested_versions() -> None:
    carried = pins(ROOT / 'requirements/gpu_check.txt')
    tested = pins(ROOT / 'requirements/pinned.txt')
    assert {'mmengine', 'mmpretrain', 'mmcv-lite'} <= carried.keys()
    for name, version in carried.items():
        assert tested.get(name) == version, name


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs no CUDA')
def test_gpu_check_refuses_without_cuda() -> None:
    proc = run_python(['tools/analysis/gpu_check.py'],
                      cwd=ROOT,
                      env=env(),
                      timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('error: no CUDA device; use --dry-run on '
                                   'a CPU machine.')


@pytest.mark.integration
def test_gpu_check_dry_run(tmp_path: Path) -> None:
    # no wheels: the check runs the installed packages, as the preloaded
    # server that forks its Python tools and workers (forkrun.python_env)
    proc = subprocess.run(['bash', 'tools/analysis/gpu_check.sh', '--dry-run'],
                          cwd=ROOT,
                          env=python_env(
                              env(WHEELS=str(tmp_path),
                                  PORT=str(free_port()))),
                          capture_output=True,
                          text=True,
                          timeout=1800)
    out = proc.stdout
    assert proc.returncode == 0, (out + proc.stderr)[-3000:]
    assert f'no wheels in {tmp_path}' in out
    table = out[out.index('| check | value | detail |'):].splitlines()[2:]
    rows = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split('|') for line in table)
    }
    assert 'FAILED' not in rows.values()
    assert rows['environment'] == 'cpu'
    assert float(rows['MoCo-v2 R18 16px b4 fp32 hexa_mm / mmpretrain']) > 0
    # the hard views cost a HEXA step more than the plain one
    assert float(rows['HEXA_MoCo 16px b4 fp32 HEXA optimised / plain']) > 1
    assert rows['k-means 4000 x 128, 1 x 1100, 2 it: '
                'assignments = plain argmax'] == 'True'
    # 16 images / batch 8 and 32 / 8: every iteration ran
    assert rows['dist_train.sh 1 process gloo: hexa-mocov2'] == '2/2 it'
    assert rows['dist_train.sh 1 process gloo: hexa-deepclusterv2'] == '4/4 it'


@pytest.mark.integration
def test_deepcluster_overhead_counts_the_collectives(tmp_path: Path) -> None:
    digits = ('configs/deepclusterv2/'
              'deepclusterv2_resnet18_2xb64-coslr-30e_digits.py')
    # 2 processes as torchrun starts them, forked from the preloaded server
    run = start_python([
        'tools/analysis/benchmark_deepcluster_overhead.py', '--launcher',
        'pytorch', '--epochs', '1', '--kmeans-rows', '100',
        '--imagenet-config', digits, '--cfg-options',
        'train_dataloader.dataset.indices=64', 'train_dataloader.batch_size=8'
    ],
                       tmp_path / 'log',
                       env=env(),
                       cwd=ROOT,
                       nproc=2)
    status = run.wait(timeout=1800)
    out = run.log.read_text()
    assert status == 0, out[-3000:]
    assert 'measured: 64 samples, 2 process(es)' in out
    # the bytes the extrapolation assumes are those the code sends
    sent = re.search(
        r'(\d+) bytes in (\d+) all-reduces; '
        r"the model's count: (\d+) bytes in (\d+)", out)
    assert sent is not None, out
    assert sent.group(1) == sent.group(3)
    assert sent.group(2) == sent.group(4)
    assert re.search(r'of the iterations \(goal <= 5 %\)', out)
