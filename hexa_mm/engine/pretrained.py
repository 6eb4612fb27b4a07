"""Pre-trained backbones for downstream benchmarks.

A hexa_mm training checkpoint holds the whole algorithm (backbone, neck,
momentum encoder, queue or memory bank, optimizer state...). Downstream
configs (mmpretrain, mmdet, mmseg) want a plain backbone ``state_dict``
loaded through ``init_cfg=dict(type='Pretrained', checkpoint=...)``. This
module extracts one, accepts either kind of file as ``PRETRAIN``, and points a
downstream config's backbone (and the C4 detector's res5 shared head) at it.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS, DefaultScope

from hexa_mm.utils.atomic import atomic_path
from hexa_mm.utils.errors import ConfigError, first_few
from .checkpoint import load_weights_only

__all__ = [
    'check_init_checkpoints', 'check_pretrained_keys',
    'extract_backbone_state_dict', 'resolve_pretrained', 'save_state_dict',
    'set_pretrained'
]

BACKBONE_PREFIX = 'backbone.'
EXTRACTED_NAME = 'pretrain_backbone.pth'


def extract_backbone_state_dict(
        checkpoint: dict,
        prefix: str = BACKBONE_PREFIX) -> 'OrderedDict[str, torch.Tensor]':
    """The backbone weights of a training checkpoint, prefix stripped.

    Only keys that start with ``prefix`` are kept: the query backbone of
    MoCo (``backbone.``), never the momentum encoder's copy
    (``encoder_k.module.backbone.``), the neck, head, queue or memory bank.

    Args:
        checkpoint (dict): A loaded checkpoint (a dict with ``state_dict``)
            or a bare ``state_dict``.
        prefix (str): The prefix of the backbone's keys.
            Defaults to ``'backbone.'``.

    Returns:
        OrderedDict[str, torch.Tensor]: The backbone ``state_dict``.

    Raises:
        ConfigError: If no key starts with ``prefix``.
    """
    state_dict = checkpoint.get('state_dict', checkpoint)
    backbone = OrderedDict(
        (key[len(prefix):], value) for key, value in state_dict.items()
        if key.startswith(prefix) and torch.is_tensor(value))
    if not backbone and is_backbone_state_dict(checkpoint):
        raise ConfigError(
            f'no "{prefix}*" weights: this bare state_dict looks like an '
            f'extracted backbone already ({len(state_dict)} tensors, e.g. '
            f'{next(iter(state_dict))}): use it as PRETRAIN directly')
    if not backbone:
        top_level = OrderedDict.fromkeys(
            str(key).split('.')[0] for key in state_dict)
        raise ConfigError(
            f'no "{prefix}*" weights in this checkpoint (top-level keys: '
            f'{first_few(top_level, 6) or "none"}): it is not a hexa_mm '
            'pre-training checkpoint')
    return backbone


def is_backbone_state_dict(checkpoint: dict) -> bool:
    """Whether a loaded file is already a bare backbone ``state_dict``.

    Args:
        checkpoint (dict): What :func:`load_weights_only` returned.

    Returns:
        bool: True if it maps names to tensors, has no ``state_dict`` entry
        and no key with the ``backbone.`` prefix.
    """
    return (bool(checkpoint) and 'state_dict' not in checkpoint
            and all(torch.is_tensor(v) for v in checkpoint.values())
            and not any(k.startswith(BACKBONE_PREFIX) for k in checkpoint))


def save_state_dict(state_dict: Dict[str, torch.Tensor], out: str) -> None:
    """Save a ``state_dict`` atomically: a failure leaves no partial file.

    Args:
        state_dict (dict[str, torch.Tensor]): What to save.
        out (str): The destination; its folder is created if needed.
    """
    with atomic_path(out) as tmp:
        torch.save(state_dict, tmp)


def resolve_pretrained(path: str, work_dir: str) -> Tuple[str, str]:
    """The backbone file a downstream run should load, given ``PRETRAIN``.

    A bare backbone ``state_dict`` (what
    ``tools/model_converters/extract_backbone_weights.py`` writes) is used as
    it is. A full hexa_mm training checkpoint is accepted too: its backbone
    is extracted into ``work_dir/pretrain_backbone.pth``, which is used.

    Args:
        path (str): ``PRETRAIN`` as the user gave it.
        work_dir (str): The downstream run's work dir.

    Returns:
        tuple[str, str]: The backbone file, and one line saying what was done.

    Raises:
        ConfigError: If the file does not exist, does not load with weights
            only, or is neither a backbone nor a checkpoint with backbone
            weights.
    """
    checkpoint = load_weights_only(path)
    if is_backbone_state_dict(checkpoint):
        return path, f'backbone weights: {path} ({len(checkpoint)} tensors)'
    try:
        backbone = extract_backbone_state_dict(checkpoint)
    except ConfigError as err:
        raise ConfigError(f'PRETRAIN {path}: {err}') from err
    out = osp.join(work_dir, EXTRACTED_NAME)
    save_state_dict(backbone, out)
    return out, (f'{path} is a training checkpoint: extracted its '
                 f'{len(backbone)} backbone tensors into {out}')


def _pretrained_targets(model: ConfigDict) -> List[Tuple[str, ConfigDict]]:
    """The parts of a downstream model that load the backbone file.

    Args:
        model (ConfigDict): ``cfg.model``.

    Returns:
        list[tuple[str, ConfigDict]]: ``(config path, sub-config)`` pairs:
        the backbone, and the C4 detectors' res5 shared head if present.
    """
    targets = [('model.backbone', model.backbone)]
    shared_head = model.get('roi_head', {}).get('shared_head')
    if shared_head is not None:
        targets.append(('model.roi_head.shared_head', shared_head))
    return targets


def set_pretrained(cfg: Config, path: str) -> List[str]:
    """Point a downstream config at a backbone file.

    Sets ``init_cfg=dict(type='Pretrained', checkpoint=path)`` on the
    backbone and, for C4 detectors, on ``roi_head.shared_head`` (mmdet's
    ``ResLayer``, whose ``layer4.*`` keys are the backbone file's). A
    model-level ``pretrained`` (mmseg's) is cleared, since mmseg copies it
    into the backbone, which then refuses to have both.

    Args:
        cfg (Config): The downstream config, changed in place.
        path (str): A backbone ``state_dict`` file.

    Returns:
        list[str]: The config paths that were set.

    Raises:
        ConfigError: If the config has no ``model.backbone``.
    """
    if 'backbone' not in cfg.get('model', {}):
        raise ConfigError('the config has no model.backbone to load the '
                          'pre-trained weights into')
    if cfg.model.get('pretrained') is not None:
        cfg.model.pretrained = None
    names = []
    for name, part in _pretrained_targets(cfg.model):
        part.pop('pretrained', None)
        part.init_cfg = dict(type='Pretrained', checkpoint=path)
        names.append(name)
    return names


def check_pretrained_keys(cfg: Config, path: str) -> int:
    """Check that a backbone file has a weight for every backbone key.

    mmengine's ``Pretrained`` initialiser loads with ``strict=False`` and only
    logs what it misses, so a ResNet-18 file given to a ResNet-50 benchmark
    would train mostly from scratch. This builds the backbone (and the C4
    shared head, whose ``layer*`` weights come from the file) of the config
    in its own scope and compares the keys.

    Args:
        cfg (Config): The downstream config (its ``default_scope`` names the
            registry: mmpretrain, mmdet or mmseg).
        path (str): The backbone ``state_dict`` file.

    Returns:
        int: How many tensors of the file the model uses.

    Raises:
        ConfigError: If a key of the backbone (or shared head) is missing
            from the file, or has another shape.
    """
    weights = load_weights_only(path)
    scope = cfg.get('default_scope')
    with DefaultScope.overwrite_default_scope(scope):
        used = 0
        for name, part in _pretrained_targets(cfg.model):
            part = part.copy()
            part.pop('init_cfg', None)
            kind = part.get('type', '?')
            expected = MODELS.build(part).state_dict()
            if name.endswith('shared_head'):
                # res5 comes from the file; a head's extra norm (MoCo's C4
                # protocol) is new and trained from scratch
                expected = {
                    k: v
                    for k, v in expected.items() if k.startswith('layer')
                }
            missing = [k for k in expected if k not in weights]
            wrong = [
                k for k in expected
                if k in weights and weights[k].shape != expected[k].shape
            ]
            if missing or wrong:
                bad = (missing + wrong)[:3]
                raise ConfigError(
                    f'{path} does not fit {name} ({kind}): {len(missing)} '
                    f'keys missing, {len(wrong)} of another '
                    f'shape (e.g. {", ".join(bad)}): pass the backbone of a '
                    'network with the same architecture')
            used += len(expected)
    return used


def _unset_pretrained(cfg, path: str, init: bool = False) -> List[str]:
    """The ``init_cfg`` checkpoints left empty under a config.

    Args:
        cfg (dict | list | Any): A (part of a) model config.
        path (str): Where ``cfg`` is, e.g. ``'model.backbone'``.
        init (bool): Whether ``cfg`` is (in) an ``init_cfg``.

    Returns:
        list[str]: The config paths of empty ``Pretrained`` checkpoints.
    """
    unset = []
    if isinstance(cfg, dict):
        if init and cfg.get('type') == 'Pretrained' and \
                not cfg.get('checkpoint'):
            unset.append(f'{path}.checkpoint')
        for key, value in cfg.items():
            unset += _unset_pretrained(value, f'{path}.{key}',
                                       key == 'init_cfg')
    elif isinstance(cfg, (list, tuple)):
        for i, value in enumerate(cfg):
            unset += _unset_pretrained(value, f'{path}.{i}', init)
    return unset


def check_init_checkpoints(cfg: Config) -> None:
    """Refuse a model whose ``Pretrained`` ``init_cfg`` names no file.

    The downstream configs carry ``init_cfg=dict(type='Pretrained',
    checkpoint='')`` for the benchmark launchers to fill; run otherwise,
    mmengine would stop at ``init_weights`` with a bare
    ``FileNotFoundError:  can not be found.``

    Args:
        cfg (Config): A config.

    Raises:
        ConfigError: Naming the key left empty and how to set it.
    """
    unset = _unset_pretrained(cfg.get('model', {}), 'model')
    if unset:
        raise ConfigError(
            f'{unset[0]} is empty: this config loads pre-trained weights '
            'that the benchmark launchers set: run bash tools/benchmarks/'
            '{classification,mmdetection,mmsegmentation}/dist_train.sh '
            f'CONFIG PRETRAIN N, or pass --cfg-options {unset[0]}=FILE')
