"""Drift monitor on scores with a spike of tied values: the spike stays in one bin."""

import numpy as np
import pandas as pd

from trustshield.drift.monitor import MAJOR, MODERATE, DriftReference, drift
from trustshield.drift.stats import numeric_shares, tie_aware_edges


def spiked(n, *, seed, spike=0.0, share=0.4, shift=0.0):
    """Scores: ``share`` of them exactly ``spike``, the rest normal around 1 + shift."""
    rng = np.random.default_rng(seed)
    rest = rng.normal(1.0 + shift, 0.5, n)
    return np.where(rng.random(n) < share, spike, rest)


def output_psi(reference_scores, window_scores):
    frame = pd.DataFrame({"x": np.zeros(len(reference_scores))})
    reference = DriftReference().fit(frame, reference_scores, threshold=1.5)
    window = pd.DataFrame({"x": np.zeros(len(window_scores))})
    return drift(reference, window, window_scores).output


def test_same_distribution_with_a_spike_of_ties_shows_no_drift():
    reference = spiked(20_000, seed=1)
    window = spiked(5_000, seed=2)
    assert np.mean(reference == 0.0) > 0.35  # the spike is there
    assert output_psi(reference, window).psi < MODERATE


def test_spike_recomputed_with_a_rounding_difference_stays_in_its_bin():
    # a spike in the middle of the scores, as a floor or a saturated model leaves one;
    # the window's tied scores differ from the training ones by one unit in the last place
    reference = spiked(20_000, seed=3, spike=1.0)
    window = spiked(5_000, seed=4, spike=1.0)
    below = np.where(window == 1.0, np.nextafter(1.0, -np.inf), window)
    above = np.where(window == 1.0, np.nextafter(1.0, np.inf), window)
    for scores in (window, below, above):
        assert output_psi(reference, scores).psi < MODERATE


def test_a_real_shift_is_still_major():
    reference = spiked(20_000, seed=5)
    shifted = spiked(5_000, seed=6, share=0.05, shift=1.5)
    assert output_psi(reference, shifted).psi >= MAJOR


def test_edges_lie_between_distinct_values_and_keep_every_value_in_its_bin():
    values = spiked(3_000, seed=7, spike=1.0)
    edges = tie_aware_edges(values, 10)
    assert np.all(np.diff(edges) > 0)
    assert not np.isin(edges[1:], values).any()  # no value above the minimum is on an edge
    cuts = np.unique(np.quantile(values, np.arange(1, 10) / 10))
    # the values are grouped into the same bins as with the raw quantile cuts
    new = np.searchsorted(edges, values, side="right")
    raw = np.searchsorted(cuts, values, side="right")
    pairs = np.unique(np.stack([raw, new]), axis=1)
    assert pairs.shape[1] == len(np.unique(raw)) == len(np.unique(new))
    assert np.isclose(numeric_shares(edges, values).sum(), 1.0)


def test_a_constant_has_one_edge_and_no_finite_value_none():
    assert tie_aware_edges(np.zeros(100), 10).tolist() == [0.0]
    assert tie_aware_edges(np.array([np.nan, -np.inf, np.inf]), 10).size == 0
