"""The drift monitor's KS statistic is the two-sample Kolmogorov–Smirnov statistic."""

import numpy as np
import pytest
from scipy.stats import ks_2samp

from trustshield.drift.monitor import ks_statistic


@pytest.mark.parametrize("seed", range(5))
def test_ks_statistic_equals_scipys_two_sample_statistic(seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(0, 1, 300)
    b = np.concatenate([rng.normal(0.3 * seed, 1.2, 700), np.zeros(50)])  # with ties
    a[:40] = 0.0
    assert ks_statistic(np.sort(a), b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)
    assert ks_statistic(a[::-1], b) == pytest.approx(ks_2samp(a, b).statistic, abs=1e-12)


def test_identical_samples_have_no_gap_and_disjoint_ones_the_largest():
    a = np.arange(10.0)
    assert ks_statistic(a, a) == 0.0 and ks_statistic(a, a + 100) == 1.0
