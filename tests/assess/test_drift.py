"""Drift monitor: PSI and KS per feature, output drift, Evidence; synthetic frames built here."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from trustshield.drift.monitor import (
    BAD_STATE,
    COLUMNS,
    MAJOR,
    MIN_WINDOW,
    MODERATE,
    NOT_A_FRAME,
    NOT_FITTED,
    PSI_EPSILON,
    SHAPE_MISMATCH,
    STATE_KEYS,
    UNKNOWN_FEATURE,
    DriftReference,
    drift,
    level,
    psi,
)
from trustshield.assess.drift_evidence import drift_evidence
from trustshield.commands.common import resolve_data
from trustshield.errors import DataError, DatasetMissing, NotFittedError

MIX = (0.7, 0.2, 0.1)


def traffic(n, *, seed, shift=0.0, mix=MIX):
    """Encoded flows: a log-normal byte count, a rate in hundredths, a mostly-zero counter,
    and a protocol code (0, 1, 2) drawn with the shares ``mix``."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "src_bytes": rng.lognormal(5.0 + shift, 1.0, n),
            "serror_rate": rng.uniform(0, 1, n).round(2),
            "num_failed": np.where(rng.uniform(size=n) < 0.8, 0.0, rng.integers(1, 50, n)),
            "protocol": rng.choice([0.0, 1.0, 2.0], n, p=mix),
        }
    )


def suspicion(n, *, seed, shift=0.0):
    return np.random.default_rng(seed).normal(shift, 1.0, n)


@pytest.fixture(scope="module")
def reference():
    return DriftReference(categorical=["protocol"]).fit(
        traffic(5000, seed=0), suspicion(5000, seed=1), threshold=1.5
    )


@pytest.mark.parametrize("n", [MIN_WINDOW, 2000])
@pytest.mark.parametrize("seed", [10, 11, 12, 13, 14])
def test_two_samples_of_one_distribution_show_no_drift(reference, seed, n):
    result = drift(reference, traffic(n, seed=seed), suspicion(n, seed=seed + 100))
    assert all(f.psi < MODERATE for f in result.features), [
        (f.name, f.psi) for f in result.features
    ]
    assert result.output.psi < MODERATE and result.drifted == {}
    assert all(f.ks < 0.1 for f in result.features if f.kind == "numeric")
    assert {e.check: e.status for e in drift_evidence(result)} == {
        "input drift": "pass",
        "output drift": "pass",
    }


def test_a_shifted_numeric_feature_is_detected_and_ranked_first(reference):
    window = traffic(2000, seed=20)
    window["src_bytes"] = window["src_bytes"] * math.e  # log-normal mean 5 → 6
    result = drift(reference, window, suspicion(2000, seed=21))
    first = result.top(1)[0]
    assert first.name == "src_bytes" and first.level == "major"
    assert first.ks == max(f.ks for f in result.features if f.ks is not None)
    assert list(result.drifted) == ["src_bytes"]
    evidence = {e.check: e for e in drift_evidence(result)}
    assert evidence["input drift"].status == "fail"
    assert evidence["input drift"].value == pytest.approx(first.psi)
    assert "src_bytes" in evidence["input drift"].metric


def test_a_changed_category_mix_is_detected_and_ranked_first(reference):
    result = drift(reference, traffic(2000, seed=30, mix=(0.3, 0.2, 0.5)), suspicion(2000, seed=31))
    first = result.top(2)[0]
    assert first.name == "protocol" and first.ks is None and first.level == "major"
    assert result.top(2)[1].psi < MODERATE
    window, train = (
        dict(zip(first.buckets, first.window_shares)),
        dict(zip(first.buckets, first.reference_shares)),
    )
    assert window["2.0"] - train["2.0"] == pytest.approx(0.4, abs=0.05)


def test_output_drift_and_alert_rate_change_follow_a_suspicion_shift(reference):
    X, train_scores = traffic(5000, seed=0), suspicion(5000, seed=1)
    scores = suspicion(2000, seed=40, shift=1.0)
    result = drift(reference, traffic(2000, seed=41), scores)
    assert result.output.psi >= MAJOR and result.output.ks > 0.2
    expected = np.mean(scores >= 1.5) - np.mean(train_scores >= 1.5)
    assert result.alert_rate_change == pytest.approx(expected) and result.alert_rate_change > 0.1
    assert len(X) == result.n_reference
    evidence = {e.check: e for e in drift_evidence(result)}
    assert evidence["output drift"].status == "fail" and evidence["input drift"].status == "pass"
    assert f"{result.window_alert_rate:.1%}" in evidence["output drift"].metric


def test_no_suspicion_means_output_drift_is_not_evidenced(reference):
    result = drift(reference, traffic(500, seed=50))
    assert result.output is None and result.alert_rate_change is None
    assert {e.check: e.status for e in drift_evidence(result)}["output drift"] == "not_evidenced"


def test_round_trip_through_json_gives_identical_results(reference):
    copy = DriftReference.from_dict(json.loads(json.dumps(reference.to_dict())))
    window = traffic(1500, seed=60, shift=0.3, mix=(0.5, 0.3, 0.2))
    scores = suspicion(1500, seed=61, shift=0.5)
    assert drift(copy, window, scores).to_dict() == drift(reference, window, scores).to_dict()
    assert drift_evidence(drift(copy, window, scores)) == drift_evidence(
        drift(reference, window, scores)
    )


def test_reference_keeps_at_most_the_sample_size_sorted():
    ref = DriftReference(sample_size=300, bins=4).fit(
        traffic(1000, seed=1), suspicion(1000, seed=2)
    )
    sample = ref.to_dict()["features"]["src_bytes"]["sample"]
    assert len(sample) == 300 and sample == sorted(sample)
    assert len(ref.to_dict()["features"]["serror_rate"]["edges"]) == 3


def test_missing_values_have_their_own_bucket_and_stay_out_of_ks(reference):
    window = traffic(2000, seed=70)
    holes = np.random.default_rng(71).uniform(size=2000) < 0.3
    window.loc[holes, "src_bytes"] = np.nan
    window.loc[holes, "protocol"] = np.nan  # an unseen category, encoded
    result = drift(reference, window, suspicion(2000, seed=72))
    numeric, category = result.feature("src_bytes"), result.feature("protocol")
    assert numeric.buckets[-1] == "missing" and numeric.window_shares[-1] == pytest.approx(
        holes.mean()
    )
    assert numeric.psi >= MAJOR and numeric.ks < 0.1  # the present values did not move
    assert category.buckets[-1] == "other" and category.window_shares[-1] == pytest.approx(
        holes.mean()
    )


def test_missing_values_in_training_are_part_of_the_reference():
    X = traffic(2000, seed=80)
    X.loc[X.index[:500], "src_bytes"] = np.nan
    ref = DriftReference(categorical=["protocol"]).fit(X, suspicion(2000, seed=81))
    assert ref.to_dict()["features"]["src_bytes"]["shares"][-1] == pytest.approx(0.25)
    same = traffic(2000, seed=82)
    same.loc[same.index[1000:1500], "src_bytes"] = np.nan
    assert drift(ref, same).feature("src_bytes").psi < MODERATE
    same.loc[same.index[:20], "serror_rate"] = np.inf  # counted as missing, not binned
    assert drift(ref, same).feature("serror_rate").window_shares[-1] == pytest.approx(0.01)


def test_pandas_categorical_columns_keep_only_the_categories_seen():
    service = pd.Categorical(["http"] * 60 + ["ftp"] * 40, categories=["ftp", "http", "ssh"])
    ref = DriftReference().fit(pd.DataFrame({"service": service}), np.zeros(100))
    assert ref.to_dict()["features"]["service"]["categories"] == ["ftp", "http"]
    ref.to_dict()["features"]["service"]["shares"][0] = 1.0  # a copy, not the fitted state
    assert ref.to_dict()["features"]["service"]["shares"] == pytest.approx([0.4, 0.6, 0.0])


def test_psi_matches_a_hand_computation():
    ref = DriftReference(bins=2).fit(pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0]}), np.zeros(4))
    # median 2.5 → training shares (0.5, 0.5) and no missing; window (0.75, 0.25, 0)
    result = drift(ref, pd.DataFrame({"x": [1.0, 1.0, 1.0, 4.0]}))
    hand = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert result.feature("x").psi == pytest.approx(hand, rel=1e-12)
    assert result.feature("x").ks == pytest.approx(0.5)
    # an empty window bin is raised to PSI_EPSILON
    empty = drift(ref, pd.DataFrame({"x": [1.0, 1.0, 1.0, 1.0]})).feature("x").psi
    hand = 0.5 * math.log(1.0 / 0.5) + (PSI_EPSILON - 0.5) * math.log(PSI_EPSILON / 0.5)
    assert empty == pytest.approx(hand, rel=1e-12)
    assert psi([0.2, 0.8], [0.2, 0.8]) == 0.0


def test_tied_quantiles_merge_and_a_value_on_an_edge_falls_in_the_bin_it_opens():
    counter = pd.DataFrame({"num_failed": [0.0] * 8 + [3.0, 7.0]})
    result = drift(DriftReference(bins=4).fit(counter, np.zeros(10)), counter)
    only = result.feature("num_failed")
    assert only.buckets == ("[-inf, 0)", "[0, inf)", "missing")
    assert only.reference_shares == (0.0, 1.0, 0.0) and only.psi == 0.0


def test_levels_follow_the_documented_thresholds():
    assert [level(v) for v in (0.0, 0.0999, MODERATE, 0.2499, MAJOR, 3.0)] == [
        "none",
        "none",
        "moderate",
        "moderate",
        "major",
        "major",
    ]


def test_a_window_too_small_is_not_evidenced(reference):
    result = drift(reference, traffic(MIN_WINDOW - 1, seed=90), suspicion(MIN_WINDOW - 1, seed=91))
    evidence = drift_evidence(result)
    assert [e.status for e in evidence] == ["not_evidenced", "not_evidenced"]
    assert all(e.value is None and str(MIN_WINDOW) in e.metric for e in evidence)
    assert "OECD: accountability" in evidence[0].principles
    assert "OECD: robustness, security and safety" in evidence[1].principles


def test_categorical_columns_are_inferred_from_their_dtype():
    X = pd.DataFrame({"service": ["http"] * 80 + ["ftp"] * 20, "bytes": np.arange(100.0)})
    ref = DriftReference().fit(X, np.zeros(100))
    window = pd.DataFrame({"service": ["http"] * 20 + ["ssh"] * 80, "bytes": np.arange(100.0)})
    result = drift(ref, window)
    service = result.feature("service")
    assert service.kind == "categorical" and service.buckets == ("ftp", "http", "other")
    assert service.window_shares == pytest.approx((0.0, 0.2, 0.8))
    assert list(result.drifted) == ["service"]


def test_shape_mismatch_is_refused_with_both_shapes(reference):
    with pytest.raises(DataError) as error:
        drift(reference, traffic(200, seed=1), suspicion(199, seed=2))
    assert str(error.value) == SHAPE_MISMATCH.format(rows=200, shape=(199,))
    with pytest.raises(DataError, match=r"\(10,\)"):
        DriftReference().fit(traffic(10, seed=1), np.zeros((10, 2)))


def test_unknown_and_missing_features_are_refused_by_name(reference):
    window = traffic(200, seed=1).rename(columns={"serror_rate": "rerror_rate"})
    with pytest.raises(DataError) as error:
        drift(reference, window)
    assert str(error.value) == COLUMNS.format(
        expected=["src_bytes", "serror_rate", "num_failed", "protocol"],
        missing=["serror_rate"],
        unknown=["rerror_rate"],
    )
    with pytest.raises(DataError) as error:
        drift(reference, traffic(200, seed=1)).feature("dst_bytes")
    assert str(error.value) == UNKNOWN_FEATURE.format(
        name="dst_bytes", expected=["src_bytes", "serror_rate", "num_failed", "protocol"]
    )
    with pytest.raises(DataError, match="'service'"):
        DriftReference(categorical=["service"]).fit(traffic(10, seed=1), np.zeros(10))


def test_unfitted_reference_and_non_frames_are_refused(reference):
    with pytest.raises(NotFittedError) as error:
        drift(DriftReference(), traffic(10, seed=1))
    assert str(error.value) == NOT_FITTED.format(method="drift")
    with pytest.raises(DataError) as error:
        drift(reference, traffic(10, seed=1).to_numpy())
    assert str(error.value) == NOT_A_FRAME.format(got="ndarray")
    with pytest.raises(DataError, match="0 rows"):
        drift(reference, traffic(0, seed=1))


def test_a_state_without_its_keys_is_refused(reference):
    state = reference.to_dict()
    del state["suspicion"]
    with pytest.raises(DataError) as error:
        DriftReference.from_dict(state)
    assert str(error.value) == BAD_STATE.format(expected=list(STATE_KEYS), got=sorted(state))
    with pytest.raises(ValueError, match="bins ≥ 2"):
        DriftReference(bins=1).fit(traffic(10, seed=1), np.zeros(10))


# --- real data: NSL-KDD training file vs KDDTest+ (skipped when the files are absent) ---


def nsl_kdd(name):
    from trustshield.ingest.tabular import TableSource
    from trustshield.specs import load_spec

    try:
        path = resolve_data(f"nsl-kdd:{name}")
    except DatasetMissing as exc:
        pytest.skip(f"NSL-KDD not available: {exc}")
    spec = load_spec("nsl-kdd")
    return spec, pd.concat([b.frame for b in TableSource(path, spec)], ignore_index=True)


def test_real_train_vs_test_drifts_more_than_a_split_of_the_training_file():
    """Reference: half of KDDTrain+_20Percent, scored by a model trained on a sample of it;
    windows of 5,000: the other half, and KDDTest+. Prints the features that moved most."""
    from trustshield.pipeline.scoring import score_batch
    from trustshield.pipeline.train import TrainConfig, train

    spec, train_file = nsl_kdd("KDDTrain+_20Percent.txt")
    _, test_file = nsl_kdd("KDDTest+.txt")
    model = train(
        train_file.sample(4000, random_state=0), spec, "", config=TrainConfig(), provenance={}
    )
    order = np.random.default_rng(0).permutation(len(train_file))
    half, rest = train_file.iloc[order[::2]], train_file.iloc[order[1::2]]

    def encoded(frame):
        return model.encoder.transform(frame), score_batch(model, frame).decision.suspicion

    reference = DriftReference(categorical=model.encoder.categorical).fit(
        *encoded(half), threshold=model.policy.alert_threshold_
    )
    same = drift(reference, *encoded(rest.sample(5000, random_state=1)))
    moved = drift(reference, *encoded(test_file.sample(5000, random_state=1)))
    for name, result in (("same file", same), ("KDDTest+", moved)):
        print(
            name,
            [(f.name, round(f.psi, 3), f.ks and round(f.ks, 3)) for f in result.top(6)],
            "output psi",
            round(result.output.psi, 3),
            "alert rate change",
            round(result.alert_rate_change, 3),
        )
    assert max(f.psi for f in same.features) < max(f.psi for f in moved.features)
    assert sum(f.psi for f in same.features) < sum(f.psi for f in moved.features)
    assert same.output.psi < moved.output.psi
