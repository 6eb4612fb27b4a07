"""Summaries over seeds: mean ± std and paired differences with intervals."""
import math
from typing import Dict, Sequence

from scipy import stats


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """Mean and sample standard deviation (n - 1) of a few runs.

    Args:
        values (Sequence[float]): One value per run (e.g. per seed).

    Returns:
        dict[str, float]: ``mean``, ``std`` (0 for a single value) and ``n``.
    """
    if not values:
        raise ValueError('mean_std needs at least one value.')
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean)**2 for v in values) / (n - 1) if n > 1 else 0.0
    return dict(mean=mean, std=math.sqrt(var), n=n)


def paired_difference(treated: Sequence[float],
                      base: Sequence[float],
                      confidence: float = 0.95) -> Dict[str, float]:
    """Mean of paired differences with a Student-t confidence interval.

    Run ``i`` of ``treated`` and run ``i`` of ``base`` share everything that
    is paired (the seed: initial weights, data order, augmentations as far as
    they coincide), so the difference ``treated[i] - base[i]`` removes what
    the seed does to both. The interval is ``mean ± t(1 - (1 - c) / 2, n - 1)
    · std / √n`` over the ``n`` differences.

    Args:
        treated (Sequence[float]): One value per seed, e.g. HEXA_MoCo.
        base (Sequence[float]): The paired values of the baseline.
        confidence (float): Coverage of the interval, in (0, 1).
            Defaults to 0.95.

    Returns:
        dict[str, float]: ``mean``, ``std`` (of the differences), ``low``
        and ``high`` (the interval; ``nan`` with fewer than 2 pairs),
        ``n`` and ``confidence``.
    """
    if len(treated) != len(base):
        raise ValueError(f'paired_difference: {len(treated)} treated values '
                         f'but {len(base)} base values; pair them by seed.')
    if not 0 < confidence < 1:
        raise ValueError(
            f'paired_difference: confidence={confidence} not in (0, 1).')
    summary = mean_std([t - b for t, b in zip(treated, base)])
    n = summary['n']
    if n < 2:
        low = high = math.nan
    else:
        half = stats.t.ppf(0.5 + confidence / 2, n - 1) * (
            summary['std'] / math.sqrt(n))
        low, high = summary['mean'] - half, summary['mean'] + half
    return dict(summary, low=low, high=high, confidence=confidence)
