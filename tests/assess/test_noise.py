"""Measurement noise and missing values: spec-driven perturbations and decision stability."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trustshield.assess.robustness.noise import add_measurement_noise, drop_features, noise_evidence
from trustshield.pipeline.noise_study import decision_stability, noise_study
from trustshield.ingest.validate import check_frame
from trustshield.records import Evidence
from synthetic import train_small, FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows

SPEC = FLOWS_SPEC
SPEC_TEXT = FLOWS_SPEC_TEXT
UNTOUCHED = ["b", "p", "label", "difficulty"]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return synthetic_flows()


@pytest.fixture(scope="module")
def model(frame):
    return train_small(frame, SPEC, SPEC_TEXT)


# --- measurement noise


def test_level_zero_leaves_the_frame_unchanged(frame):
    noisy = add_measurement_noise(frame, SPEC, level=0.0, seed=3)
    pd.testing.assert_frame_equal(noisy, frame)
    assert noisy is not frame


@pytest.mark.parametrize("level", [0.05, 0.5, 3.0])
def test_noisy_values_stay_valid_integers_in_range(frame, level):
    noisy = add_measurement_noise(frame, SPEC, level=level, seed=1)
    for name in ("n", "t"):
        values = noisy[name].to_numpy()
        lo, hi = SPEC.column(name).bounds()
        assert np.all(values == np.round(values)), name
        assert values.min() >= lo and values.max() <= hi, name
    for name in ("r", "e"):
        assert noisy[name].between(0, 1).all(), name
    assert not (noisy["r"] + noisy["e"] > 1).any()  # relation kept or row excluded
    assert not ((noisy["p"] == "icmp") & (noisy["n"] != 0)).any()
    again = check_frame(
        noisy.reset_index(drop=True), SPEC, file="noisy", lines=np.arange(len(noisy))
    )
    assert again.rejected_rows == 0
    assert list(noisy.columns) == list(frame.columns)
    assert (noisy.dtypes == frame.dtypes).all()


def test_noise_actually_moves_counters_and_rates(frame):
    noisy = add_measurement_noise(frame, SPEC, level=0.2, seed=1)
    base = frame.loc[noisy.index]
    for name in ("n", "t", "r"):
        assert (noisy[name] != base[name]).mean() > 0.3, name
    assert noisy["n"].max() == SPEC.column("n").bounds()[1]  # clipped, not wrapped


def test_rates_stay_on_the_resolution_they_were_recorded_with(frame):
    """The synthetic rates carry 3 decimals; noise must not invent finer readings."""
    noisy = add_measurement_noise(frame, SPEC, level=0.5, seed=1)
    for name in ("r", "e"):
        values = noisy[name].to_numpy()
        assert np.allclose(values, np.round(values, 3), rtol=0, atol=1e-9), name
    coarse = frame.assign(r=frame.r.round(1), e=0.0)
    values = add_measurement_noise(coarse, SPEC, level=0.5, seed=1)["r"].to_numpy()
    assert np.allclose(values, np.round(values, 1), rtol=0, atol=1e-9)


def test_categorical_binary_label_and_metadata_untouched(frame):
    noisy = add_measurement_noise(frame, SPEC, level=1.0, seed=2)
    pd.testing.assert_frame_equal(noisy[UNTOUCHED], frame.loc[noisy.index, UNTOUCHED])


def test_rows_that_break_a_relation_are_excluded_and_counted(frame):
    """Sweep rows have r + e = 1 exactly: noise pushes some of them over and they go;
    rows far from the limit stay."""
    noisy = add_measurement_noise(frame, SPEC, level=1.0, seed=4)
    report = noisy.attrs["noise"]
    assert report["rejected_rows"] == len(frame) - len(noisy) > 0
    assert noisy.index.isin(frame.index).all() and noisy.index.is_unique
    dropped = frame.index.difference(noisy.index)
    assert (frame.loc[dropped, "r"] + frame.loc[dropped, "e"] > 0.5).all()
    assert any("one window" in p for p in report["problems"])
    far = frame[frame.r + frame.e <= 0.5]  # 50 noise sd from the limit
    assert add_measurement_noise(far, SPEC, level=0.1, seed=4).attrs["noise"]["rejected_rows"] == 0


def test_noise_is_deterministic_under_seed_and_does_not_mutate(frame):
    before = frame.copy(deep=True)
    a = add_measurement_noise(frame, SPEC, level=0.1, seed=7)
    b = add_measurement_noise(frame, SPEC, level=0.1, seed=7)
    c = add_measurement_noise(frame, SPEC, level=0.1, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["n"].equals(c["n"])
    pd.testing.assert_frame_equal(frame, before)


def test_negative_level_is_refused(frame):
    with pytest.raises(ValueError):
        add_measurement_noise(frame, SPEC, level=-0.1, seed=0)


# --- missing values


def test_drop_features_sets_the_share_of_cells_to_nan_only_in_chosen_columns(frame):
    holed = drop_features(frame, SPEC, columns=["n", "r"], rate=0.1, seed=0)
    missing = holed.isna()
    assert missing[["n", "r"]].to_numpy().sum() == round(0.1 * len(frame) * 2)
    assert missing[["n", "r"]].any().all()  # both columns get some
    assert not missing.drop(columns=["n", "r"]).to_numpy().any()
    kept = ~missing["n"]
    assert holed.loc[kept, "n"].equals(frame.loc[kept, "n"])


def test_drop_features_defaults_to_every_numeric_feature(frame):
    holed = drop_features(frame, SPEC, rate=0.05, seed=1)
    numeric = [c.name for c in SPEC.features if c.is_numeric]
    assert set(numeric) == {"n", "t", "r", "e", "w", "b"}
    assert holed[numeric].isna().to_numpy().sum() == round(0.05 * len(frame) * len(numeric))
    assert not holed[["p", "label", "difficulty"]].isna().to_numpy().any()


def test_drop_features_is_deterministic_and_pure(frame):
    before = frame.copy(deep=True)
    a = drop_features(frame, SPEC, rate=0.2, seed=5)
    pd.testing.assert_frame_equal(a, drop_features(frame, SPEC, rate=0.2, seed=5))
    assert not a.isna().equals(drop_features(frame, SPEC, rate=0.2, seed=6).isna())
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(drop_features(frame, SPEC, rate=0.0, seed=5), frame)


def test_drop_features_refuses_non_numeric_columns(frame):
    with pytest.raises(ValueError, match="p"):
        drop_features(frame, SPEC, columns=["p"], rate=0.1, seed=0)


# --- decision stability


def test_identical_frames_change_nothing(model, frame):
    result = decision_stability(model, frame, frame.copy())
    assert result["records"] == len(frame) and result["excluded"] == 0
    assert result["changed"] == 0 and result["changed_share"] == 0.0
    assert result["alert_to_allow"] == result["allow_to_alert"] == 0
    assert result["before"] == result["after"]
    assert result["by_class"]["normal"]["changed"] == result["by_class"]["attack"]["changed"] == 0
    assert result["suspicion_finite"]


def test_counts_are_consistent_under_noise(model, frame):
    noisy = add_measurement_noise(frame, SPEC, level=1.0, seed=4)
    result = decision_stability(model, frame, noisy)
    t = result["transitions"]
    assert sum(sum(row.values()) for row in t.values()) == result["records"] == len(noisy)
    assert result["excluded"] == len(frame) - len(noisy)
    off_diagonal = sum(t[a][b] for a in t for b in t[a] if a != b)
    assert result["changed"] == off_diagonal
    assert result["alert_to_allow"] == t["alert"]["allow"]
    assert result["allow_to_alert"] == t["allow"]["alert"]
    by = result["by_class"]
    assert by["normal"]["n"] + by["attack"]["n"] == result["records"]
    assert by["normal"]["changed"] + by["attack"]["changed"] == result["changed"]
    attacks = (frame.loc[noisy.index, "label"] != "normal").sum()
    assert by["attack"]["n"] == attacks


def test_forced_changes_are_counted(model, frame):
    """Make every flood look like normal tcp traffic: the alerts on them must be counted."""
    flipped = frame.copy()
    normal = frame[frame.label == "normal"].iloc[0]
    floods = flipped.label == "flood"
    for name in ("n", "t", "r", "e", "b", "p"):
        flipped.loc[floods, name] = normal[name]
    result = decision_stability(model, frame, flipped)
    assert result["by_class"]["normal"]["changed"] == 0
    assert result["by_class"]["attack"]["changed"] == result["changed"] > 0
    assert result["after"]["detection_rate"] < result["before"]["detection_rate"]


# --- study and evidence


def test_study_is_json_able_and_evidence_reads_it(model, frame):
    study = noise_study(model, frame, SPEC, levels=(0.0, 0.05), missing_rates=(0.05,), seed=0)
    json.dumps(study)
    assert [r["level"] for r in study["noise"]] == [0.0, 0.05]
    assert study["noise"][0]["changed"] == 0
    direct = decision_stability(
        model, frame, add_measurement_noise(frame, SPEC, level=0.05, seed=0)
    )
    assert {k: study["noise"][1][k] for k in direct} == json.loads(json.dumps(direct))
    missing = study["missing"][0]
    assert missing["missing_values"] == round(0.05 * len(frame) * 6)
    assert 0 < missing["rows_with_missing"] <= missing["missing_values"]
    evidence = noise_evidence(study)
    assert all(isinstance(e, Evidence) for e in evidence)
    stability, handling = evidence
    assert stability.value == study["noise"][1]["changed_share"]
    assert stability.status == ("pass" if stability.value <= 0.05 else "fail")
    assert handling.status in ("pass", "fail")
    assert all("EU AI Act Art. 15 (robustness)" in e.principles for e in evidence)


def test_evidence_without_figures_is_not_evidenced():
    stability, handling = noise_evidence({"noise": [], "missing": []})
    assert stability.status == handling.status == "not_evidenced"
    failed = noise_evidence(
        {
            "noise": [{"level": 0.05, "error": "boom"}],
            "missing": [
                {"rate": 0.1, "error": "boom", "suspicion_finite": True, "non_finite_suspicion": 0}
            ],
        }
    )
    assert failed[0].status == "not_evidenced" and failed[1].status == "fail"


def test_missing_values_get_finite_suspicion(model, frame):
    """Whatever score_batch does with NaN, the decision path must give finite suspicion."""
    study = noise_study(model, frame, SPEC, levels=(), missing_rates=(0.2,), seed=0)
    row = study["missing"][0]
    assert row["rows_with_missing"] > 0
    assert row["suspicion_finite"] and row["non_finite_suspicion"] == 0
