"""docs/tutorials/add_an_algorithm_and_a_dataset.md, followed literally: its
files are written from the page, its algorithm gets per-view targets from
both generators, and its training command runs."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Dict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config

from forkrun import python_env
from hexa_mm import register_all_modules
from hexa_mm.models import CutMixHardExample
from hexa_mm.registry import DATASETS, MODELS
from hexa_mm.testing import free_port

ROOT = Path(__file__).resolve().parents[2]
TUTORIAL = ROOT / 'docs/tutorials/add_an_algorithm_and_a_dataset.md'


def tutorial_files() -> Dict[str, str]:
    """Every ```python block of the page that starts with ``# file: PATH``."""
    blocks = re.findall(r'```python\n(.*?)```', TUTORIAL.read_text(),
                        re.DOTALL)
    files = {}
    for block in blocks:
        first, _, rest = block.partition('\n')
        if first.startswith('# file: '):
            files[first[len('# file: '):].strip()] = rest
    return files


def tutorial_command() -> str:
    """The page's training command (its last ```bash block)."""
    return re.findall(r'```bash\n(.*?)```', TUTORIAL.read_text(),
                      re.DOTALL)[-1].strip()


@pytest.fixture(scope='module')
def user_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the tutorial's package and config, importable."""
    folder = tmp_path_factory.mktemp('tutorial')
    for name, text in tutorial_files().items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    sys.path.insert(0, str(folder))
    register_all_modules()
    import my_hexa  # noqa: F401  (registers SymmetricContrast and Shapes)
    yield folder
    sys.path.remove(str(folder))


def test_the_page_holds_the_whole_package() -> None:
    assert set(tutorial_files()) == {
        'my_hexa/__init__.py', 'my_hexa/symmetric_contrast.py',
        'my_hexa/shapes.py', 'my_config.py'
    }


def build(user_dir: Path) -> torch.nn.Module:
    cfg = Config.fromfile(str(user_dir / 'my_config.py'))
    torch.manual_seed(0)
    return MODELS.build(cfg.model).double()


def batch(user_dir: Path):
    dataset = DATASETS.build(
        dict(type='Shapes', num_images=6, pipeline=[dict(type='PackInputs')]))
    images = torch.stack([dataset[i]['inputs'] for i in range(6)]).double()
    view = (images - 127.5) / 127.5
    return [view, view.flip(-1)]


def test_each_view_predicts_the_other_views_keys(user_dir: Path) -> None:
    model = build(user_dir)
    views = batch(user_dir)
    labels = model.view_labels(views, None)
    assert len(labels) == 2
    keys = model.encode_views(views)
    assert torch.allclose(labels[0].context['keys'], keys[1], atol=1e-12)
    assert torch.allclose(labels[1].context['keys'], keys[0], atol=1e-12)
    # the hard-view loss scores each view against its own label set
    embeddings = model.encode_views(views)
    expected = sum(
        -(lab.probs * F.log_softmax(e @ lab.context['keys'].t() / 0.2, 1)
          ).sum(1).mean() for e, lab in zip(embeddings, labels)) / 2
    assert torch.allclose(
        model.hard_view_loss(views, labels), expected, atol=1e-12)


def test_cutmix_mixes_each_views_own_targets(user_dir: Path) -> None:
    model = build(user_dir)
    views = batch(user_dir)
    labels = model.view_labels(views, None)
    _, clean = model.clean_pass(views, labels, with_grads=False)
    cutmix = CutMixHardExample()
    torch.manual_seed(0)
    np.random.seed(0)
    drawn = cutmix.mix(clean.views)
    torch.manual_seed(0)
    np.random.seed(0)
    _, hard, _ = cutmix(model, clean, labels)
    own = torch.eye(6, dtype=torch.float64)
    lam = drawn.lam.double().unsqueeze(1)
    for mixed, clean_labels in zip(hard, labels):
        # over the view's own label space: the other view's keys
        assert mixed.context is clean_labels.context
        assert torch.allclose(mixed.probs,
                              lam * own + (1 - lam) * own[drawn.partner])


def test_a_training_step_logs_both_generators(user_dir: Path) -> None:
    model = build(user_dir)
    losses = model.loss(batch(user_dir), None)
    assert {'loss_clean', 'loss_cutmix', 'loss_adv', 'cutmix_rise',
            'adv_rise', 'cutmix_lam'} == set(losses)
    total = model.parse_losses(losses)[0]
    assert torch.isfinite(total)
    total.backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


@pytest.mark.integration
def test_the_tutorial_command_trains(user_dir: Path) -> None:
    # the launcher real, torchrun and the 2 workers forked from a preloaded
    # server (forkrun.python_env)
    env = python_env(
        dict(os.environ, HEXA_MM=str(ROOT), OMP_NUM_THREADS='1',
             PORT=str(free_port()), CUDA_VISIBLE_DEVICES='',
             PYTHONPATH=str(ROOT)))
    proc = subprocess.run(['bash', '-c', tutorial_command()], cwd=user_dir,
                          env=env, capture_output=True, text=True,
                          timeout=900)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-3000:]
    for term in ('loss_clean', 'loss_cutmix', 'loss_adv', 'adv_rise'):
        assert f'{term}: ' in log, term
    epochs = Config.fromfile(str(user_dir / 'my_config.py')).train_cfg[
        'max_epochs']
    assert log.count('knn/top1:') == epochs
    assert (user_dir / f'work_dirs/my_hexa/epoch_{epochs}.pth').is_file()
    assert shlex.split(tutorial_command())[0].startswith('PYTHONPATH=')
