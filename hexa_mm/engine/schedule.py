"""Changing how long an epoch-based config trains."""
from mmengine.config import Config

from hexa_mm.utils.errors import ConfigError


def set_max_epochs(cfg: Config, epochs: int) -> None:
    """Train ``epochs`` epochs, the schedule shortened or lengthened with it.

    Schedulers that end with training (``end`` equal to the old
    ``max_epochs``) end at ``epochs``, a cosine's ``T_max`` moving with
    them; schedulers without an ``end`` already end with training (mmengine
    sets it to ``max_epochs``); warm-ups and other schedulers that end
    earlier keep their length.

    Args:
        cfg (Config): An epoch-based config (``train_cfg.max_epochs``),
            changed in place.
        epochs (int): The new number of epochs, >= 1.

    Raises:
        ConfigError: If ``epochs`` < 1 or the config is not epoch-based.
    """
    if epochs < 1:
        raise ConfigError(f'max_epochs={epochs} must be >= 1.')
    old = cfg.get('train_cfg', {}).get('max_epochs')
    if old is None:
        raise ConfigError('the config trains by iterations (no '
                          'train_cfg.max_epochs): set train_cfg.max_iters.')
    cfg.train_cfg.max_epochs = epochs
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        if scheduler.get('end') == old:
            scheduler['end'] = epochs
            if scheduler.get('T_max') is not None:
                scheduler['T_max'] = max(1, scheduler['T_max'] + epochs - old)
