"""ProbeMonitor: normal traffic passes, bisection probes and feature sweeps are flagged."""

from __future__ import annotations

import time

import numpy as np
import pytest

from trustshield.decide.policy import BAD_CALIBRATION, calibrate_band
from trustshield.errors import ConfigError, DataError
from trustshield.service.probing import (
    MIN_RECORDS,
    REASON_BOUNDARY,
    REASON_SWEEP,
    WIDTH_CHANGED,
    ProbeMonitor,
)

WIDTH = 41
BATCH = 100


def normal_traffic(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` flow-like records (n, 41) and margins (n,): 3 categorical codes, 20
    zero-inflated counts, 18 rates in [0, 1] (often exactly 0 or 1); margins mostly far
    below the threshold, a few alerts far above, spread broadly."""
    codes = np.column_stack([rng.integers(0, k, n) for k in (3, 12, 8)]).astype(float)
    counts = rng.poisson(rng.gamma(1.0, 40.0, (n, 20))) * (rng.random((n, 20)) < 0.6)
    rates = rng.beta(0.4, 0.4, (n, 18))
    rates[rng.random((n, 18)) < 0.3] = 0.0
    rates[rng.random((n, 18)) < 0.1] = 1.0
    rates = np.round(rates, 2)
    attack = rng.random(n) < 0.05
    margin = np.where(attack, rng.normal(1.0, 0.6, n), rng.normal(-1.2, 0.6, n))
    return np.column_stack([codes, counts, rates]), margin


def linear_margin(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A stand-in model: margin = w·x − 1 (the boundary is w·x = 1)."""
    return x @ w - 1.0


def bisection_probe(rng: np.random.Generator, w: np.ndarray, pairs: int, steps: int = 14):
    """Records and margins of an evasion search: for each (benign, malicious) pair, bisect
    the segment between them towards the decision boundary."""
    records = []
    for _ in range(pairs):
        benign, malicious = rng.random(WIDTH) * 0.2, rng.random(WIDTH) * 2.0
        low, high = 0.0, 1.0
        for _ in range(steps):
            mid = (low + high) / 2
            point = benign + mid * (malicious - benign)
            records.append(point)
            low, high = (low, mid) if linear_margin(point, w) > 0 else (mid, high)
    records = np.array(records)
    return records, linear_margin(records, w)


def feed(monitor: ProbeMonitor, key, records, margins, now: float = 0.0):
    verdict = None
    for start in range(0, len(records), BATCH):
        verdict = monitor.observe(
            key, records[start : start + BATCH], margins[start : start + BATCH], now=now
        )
    return verdict


@pytest.fixture
def w():
    return np.full(WIDTH, 1.0 / (WIDTH * 0.55))


@pytest.mark.parametrize("seed", range(5))
def test_normal_traffic_is_not_flagged(seed):
    records, margins = normal_traffic(np.random.default_rng(seed), 5000)
    verdict = feed(ProbeMonitor(), "soc", records, margins)
    assert not verdict.flagged and verdict.reasons == ()
    assert verdict.queries == 5000
    assert verdict.boundary_share < 0.1 and verdict.sweep_share < 0.1


def test_false_positives_over_twenty_seeds_of_normal_traffic():
    flagged = sum(
        feed(ProbeMonitor(), "soc", *normal_traffic(np.random.default_rng(100 + s), 5000)).flagged
        for s in range(20)
    )
    assert flagged == 0


def test_a_bisection_probe_is_flagged_for_boundary_clustering(w):
    records, margins = bisection_probe(np.random.default_rng(1), w, pairs=20)
    verdict = feed(ProbeMonitor(), "attacker", records, margins)
    assert verdict.flagged and REASON_BOUNDARY in verdict.reasons
    assert verdict.boundary_share > 0.5


def test_a_one_feature_sweep_is_flagged(w):
    base = np.random.default_rng(2).random(WIDTH)
    records = np.repeat(base[None, :], 200, axis=0)
    records[:, 7] = np.arange(200)  # step feature 7 through 0..199
    margins = np.full(200, -3.0)  # far from the boundary throughout
    verdict = feed(ProbeMonitor(), "scanner", records, margins)
    assert verdict.flagged and verdict.reasons == (REASON_SWEEP,)
    assert verdict.sweep_share > 0.9


def test_a_coordinate_wise_scan_in_random_order_is_flagged():
    rng = np.random.default_rng(3)
    base = rng.random(WIDTH)
    records = np.repeat(base[None, :], 400, axis=0)
    records[np.arange(400), rng.integers(0, WIDTH, 400)] += rng.normal(0, 1, 400)
    verdict = feed(ProbeMonitor(), "scanner", records, np.full(400, -2.0))
    assert verdict.flagged and REASON_SWEEP in verdict.reasons


def test_repeats_of_one_record_are_not_a_sweep():
    record = np.random.default_rng(4).random(WIDTH)
    verdict = feed(
        ProbeMonitor(), "retry", np.repeat(record[None, :], 500, axis=0), np.full(500, -1.0)
    )
    assert not verdict.flagged and verdict.sweep_share == 0.0


def test_toggling_one_field_between_two_values_is_not_a_sweep():
    base = np.random.default_rng(5).random(WIDTH)
    records = np.repeat(base[None, :], 300, axis=0)
    records[1::2, 3] += 1.0  # A, B, A, B, …
    monitor = ProbeMonitor(memory=1)  # only the last record is kept, so
    for i, record in enumerate(records):  # sent one by one, none is a repeat
        verdict = monitor.observe("toggler", record[None, :], np.array([-1.0]), now=float(i))
    assert verdict.sweep_share > 0.9  # each differs from the last in one field
    assert not verdict.flagged  # but only two distinct steps


def test_no_verdict_before_the_minimum_number_of_records():
    monitor = ProbeMonitor()
    few = np.random.default_rng(6).random((5, WIDTH))
    verdict = monitor.observe("new", few, np.zeros(5), now=0.0)
    assert verdict.boundary_share == 1.0 and not verdict.flagged
    more = np.random.default_rng(7).random((MIN_RECORDS, WIDTH))
    assert monitor.observe("new", more, np.zeros(MIN_RECORDS), now=1.0).flagged


def test_a_probe_does_not_flag_another_tokens_normal_traffic(w):
    rng = np.random.default_rng(8)
    normal, normal_margins = normal_traffic(rng, 5000)
    probe, probe_margins = bisection_probe(rng, w, pairs=10)
    monitor = ProbeMonitor()
    for i, start in enumerate(range(0, 5000, BATCH)):
        normal_verdict = monitor.observe(
            "soc",
            normal[start : start + BATCH],
            normal_margins[start : start + BATCH],
            now=float(i),
        )
        if i < 7:
            part = slice(i * 20, (i + 1) * 20)
            monitor.observe("attacker", probe[part], probe_margins[part], now=float(i))
    assert not normal_verdict.flagged
    assert monitor.flagged_keys() == ["attacker"]


def test_a_flag_stays_until_reset(w):
    monitor = ProbeMonitor()
    feed(monitor, "attacker", *bisection_probe(np.random.default_rng(9), w, pairs=10))
    normal = normal_traffic(np.random.default_rng(10), 3000)
    assert feed(monitor, "attacker", *normal).flagged  # clean traffic afterwards
    monitor.reset("attacker")
    assert monitor.flagged_keys() == []
    verdict = feed(monitor, "attacker", *normal)
    assert not verdict.flagged and verdict.queries == 3000


def test_memory_is_bounded_by_keys_and_idle_time():
    monitor = ProbeMonitor(max_keys=3, forget_after_s=60)
    records, margins = normal_traffic(np.random.default_rng(11), 10)
    for i, key in enumerate("abcde"):
        monitor.observe(key, records, margins, now=float(i))
    assert len(monitor) == 3
    monitor.observe("f", records, margins, now=1000.0)  # all others idle > 60 s
    assert len(monitor) == 1


def test_flags_survive_eviction_of_the_statistics(w):
    monitor = ProbeMonitor(max_keys=2)
    feed(monitor, "attacker", *bisection_probe(np.random.default_rng(12), w, pairs=10))
    records, margins = normal_traffic(np.random.default_rng(13), 10)
    for key in ("x", "y", "z"):
        monitor.observe(key, records, margins, now=1.0)
    assert monitor.flagged_keys() == ["attacker"]


def test_batches_larger_than_the_window_and_memory_keep_the_latest():
    base = np.random.default_rng(14).random(WIDTH)
    sweep = np.repeat(base[None, :], 700, axis=0)
    sweep[:, 0] = np.arange(700)
    monitor = ProbeMonitor(window=100, min_records=50)
    monitor.observe("k", np.random.default_rng(15).random((300, WIDTH)), np.full(300, -1.0), 0)
    verdict = monitor.observe("k", sweep, np.full(700, -1.0), now=1.0)
    assert verdict.sweep_share == 1.0 and verdict.queries == 1000


def test_bad_inputs_are_refused():
    monitor = ProbeMonitor()
    with pytest.raises(DataError, match="expected encoded of shape"):
        monitor.observe("k", np.zeros((3, WIDTH)), np.zeros(4), now=0.0)
    with pytest.raises(DataError, match="finite margins"):
        monitor.observe("k", np.zeros((1, WIDTH)), np.array([np.nan]), now=0.0)
    monitor.observe("k", np.zeros((2, WIDTH)), np.zeros(2), now=0.0)
    with pytest.raises(DataError) as caught:
        monitor.observe("k", np.zeros((2, 5)), np.zeros(2), now=0.0)
    assert str(caught.value) == WIDTH_CHANGED.format(key="k", expected=WIDTH, got=5)


def test_a_calibrated_band_holds_the_chosen_share_of_ordinary_traffic():
    _, margins = normal_traffic(np.random.default_rng(17), 20_000)
    band = calibrate_band(margins, share=0.01)
    assert np.mean(np.abs(margins) <= band) == pytest.approx(0.01, abs=0.0005)
    assert calibrate_band(margins * 10, share=0.01) == pytest.approx(10 * band)


def test_a_step_model_probe_needs_a_calibrated_band(w):
    """A piecewise-constant model (like a tree ensemble) jumps across the threshold: its
    margins come in steps of 0.25 (±0.125 either side of it), so a bisection never lands
    within the default band, but within a band calibrated on ordinary traffic."""

    def quantised(m):
        return np.floor(m / 0.25) * 0.25 + 0.125

    records, margins = bisection_probe(np.random.default_rng(18), w, pairs=20)
    normal, normal_margins = normal_traffic(np.random.default_rng(19), 5000)
    band = calibrate_band(quantised(normal_margins), share=0.01)
    assert band == 0.125
    assert not feed(ProbeMonitor(), "a", records, quantised(margins)).flagged
    assert feed(ProbeMonitor(band=band), "a", records, quantised(margins)).flagged
    assert not feed(ProbeMonitor(band=band), "soc", normal, quantised(normal_margins)).flagged


@pytest.mark.parametrize(
    "margins, share",
    [(np.zeros((2, 2)), 0.01), (np.array([]), 0.01), (np.array([np.inf]), 0.01), (np.ones(3), 1.0)],
)
def test_bad_calibration_inputs_are_refused(margins, share):
    with pytest.raises(DataError) as caught:
        calibrate_band(margins, share=share)
    assert str(caught.value) == BAD_CALIBRATION.format(shape=margins.shape, share=share)


@pytest.mark.parametrize(
    "setting",
    [{"window": 0}, {"window": 10.5}, {"band": -0.1}, {"boundary_limit": 1.5}, {"memory": True}],
)
def test_bad_settings_are_refused(setting):
    name, value = next(iter(setting.items()))
    with pytest.raises(ConfigError, match=f"ProbeMonitor setting {name} must be .*; got {value}"):
        ProbeMonitor(**setting)


def test_observing_two_thousand_records_takes_well_under_a_second():
    records, margins = normal_traffic(np.random.default_rng(16), 2000)
    monitor = ProbeMonitor()
    start = time.perf_counter()
    feed(monitor, "soc", records, margins)
    assert time.perf_counter() - start < 0.25  # 20 batches of 100 × 41
