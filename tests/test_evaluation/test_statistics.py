"""Mean ± std and paired differences against scipy's own routes."""
import math

import numpy as np
import pytest
from scipy import stats

from hexa_mm.evaluation import mean_std, paired_difference


def test_mean_std_is_the_sample_std() -> None:
    values = [84.0, 86.5, 85.25, 90.0]
    got = mean_std(values)
    assert got['mean'] == pytest.approx(np.mean(values))
    assert got['std'] == pytest.approx(np.std(values, ddof=1))
    assert got['n'] == 4
    assert mean_std([3.0]) == dict(mean=3.0, std=0.0, n=1)
    with pytest.raises(ValueError):
        mean_std([])


@pytest.mark.parametrize('confidence', [0.95, 0.9])
def test_paired_interval_matches_scipy_ttest_rel(confidence: float) -> None:
    rng = np.random.default_rng(0)
    base = 85 + rng.normal(0, 2, size=5)
    treated = base + 1 + rng.normal(0, 0.5, size=5)
    got = paired_difference(list(treated), list(base), confidence)
    ref = stats.ttest_rel(treated, base).confidence_interval(confidence)
    assert got['low'] == pytest.approx(ref.low)
    assert got['high'] == pytest.approx(ref.high)
    assert got['mean'] == pytest.approx(np.mean(treated - base))
    assert got['std'] == pytest.approx(np.std(treated - base, ddof=1))


def test_pairing_removes_the_shared_seed_effect() -> None:
    # the seeds move both runs by a lot, the treatment adds exactly 1:
    # unpaired the interval would span zero, paired it is a point at 1
    seed_effect = [-6.0, 0.0, 7.0]
    base = [80 + s for s in seed_effect]
    treated = [81 + s for s in seed_effect]
    got = paired_difference(treated, base)
    assert got['mean'] == pytest.approx(1)
    assert got['low'] == pytest.approx(1) and got['high'] == pytest.approx(1)


def test_paired_interval_of_three_seeds_by_hand() -> None:
    # differences 1, 2, 3: mean 2, sd 1, t(0.975, 2) = 4.302653
    got = paired_difference([11, 12, 13], [10, 10, 10])
    half = 4.302652729911275 / math.sqrt(3)
    assert got['low'] == pytest.approx(2 - half)
    assert got['high'] == pytest.approx(2 + half)


def test_paired_difference_refuses_unpaired_input() -> None:
    with pytest.raises(ValueError, match='pair them by seed'):
        paired_difference([1, 2, 3], [1, 2])
    one = paired_difference([2.0], [1.0])
    assert one['mean'] == 1 and math.isnan(one['low'])
