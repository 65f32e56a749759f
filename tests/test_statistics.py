"""The seed statistics (`imitax.eval`): the same numbers as scipy.stats, which imitax no longer
imports for them (2.2 s on a process's first evaluation)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from imitax.eval import interquartile_mean, iqm_statistics, seed_statistics


@pytest.mark.parametrize("size", [2, 3, 4, 5, 8, 27])
@pytest.mark.parametrize("seed", [0, 7])
def test_intervals_and_iqm_equal_scipys_from_the_same_seed(size, seed):
    data = np.random.default_rng(size * 10 + seed).normal(0.8, 0.3, size)
    data[-1] = data[0]  # a tie, as equal scores (1.0) often are
    mean_interval = stats.bootstrap((data,), np.mean, confidence_level=0.95, n_resamples=2000,
                                    random_state=np.random.default_rng(seed), method="percentile").confidence_interval
    iqm_interval = stats.bootstrap((data,), lambda x, axis: stats.trim_mean(x, 0.25, axis=axis), confidence_level=0.95,
                                   n_resamples=2000, random_state=np.random.default_rng(seed),
                                   method="percentile").confidence_interval
    ours = seed_statistics(data, seed)
    iqm, interval = iqm_statistics(data, seed)
    np.testing.assert_allclose(ours.ci95, (mean_interval.low, mean_interval.high), rtol=1e-12)
    np.testing.assert_allclose(interval, (iqm_interval.low, iqm_interval.high), rtol=1e-12)
    np.testing.assert_allclose(iqm, stats.trim_mean(data, 0.25), rtol=1e-12)
    assert ours.mean == pytest.approx(data.mean()) and ours.std == pytest.approx(data.std(ddof=1))


def test_the_iqm_drops_a_quarter_from_each_end_and_one_value_is_its_own_interval():
    assert interquartile_mean([0.0, 1.0, 2.0, 100.0]) == 1.5
    assert interquartile_mean([3.0, 1.0, 2.0]) == 2.0  # fewer than 4: nothing dropped
    assert seed_statistics([0.5]).ci95 == (0.5, 0.5) and iqm_statistics([0.5]) == (0.5, (0.5, 0.5))
    assert iqm_statistics([1.0, 1.0, 1.0]) == (1.0, (1.0, 1.0))


def test_a_nan_score_makes_the_iqm_and_intervals_nan_as_scipys_do():
    values = [1.0, 2.0, 3.0, float("nan")]
    assert np.isnan(stats.trim_mean(values, 0.25)) and np.isnan(interquartile_mean(values))
    iqm, interval = iqm_statistics(values)
    assert np.isnan(iqm) and np.isnan(interval).all() and np.isnan(seed_statistics(values).ci95).all()
