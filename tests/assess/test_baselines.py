"""Baselines beside the model (P26): compared at the model's own FPR, on the same records."""

from __future__ import annotations

import json

import numpy as np
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, synthetic_traffic, train_small
from trustshield.assess.baselines import (
    ISOLATION_FOREST,
    LIGHTGBM,
    baseline_evidence,
    compare_baselines,
    detection_at_fpr,
)
from trustshield.cli import main
from trustshield.model_folder import save_model


def test_detection_at_fpr_alerts_at_most_that_share_of_normal_records():
    scores = np.array([*range(10), 5.5, 9.5, 10.0])
    attack = np.array([False] * 10 + [True] * 3)
    assert detection_at_fpr(scores, attack, 0.1) == pytest.approx(2 / 3)  # threshold 8
    assert detection_at_fpr(scores, attack, 0.0) == pytest.approx(2 / 3)  # threshold 9
    assert detection_at_fpr(scores, attack, 0.5) == 1.0
    assert detection_at_fpr(scores, attack, 1.0) == 1.0


def halves():
    X, labels, _ = synthetic_traffic(n_normal=400, n_attack=200, seed=3)
    attack = labels != "normal"
    rng = np.random.default_rng(0)
    train_rows = rng.random(len(X)) < 0.5
    return X[train_rows], attack[train_rows], X[~train_rows], attack[~train_rows]


def test_a_model_worse_than_the_baseline_fails_and_a_perfect_one_passes():
    X_train, a_train, X_test, a_test = halves()
    perfect = compare_baselines(X_train, a_train, X_test, a_test, a_test.copy())
    assert [c.baseline for c in perfect] == [LIGHTGBM, ISOLATION_FOREST]
    assert all(c.fpr == 0.0 and c.model_detection == 1.0 and c.margin >= 0 for c in perfect)
    rng = np.random.default_rng(1)
    coin = rng.random(len(a_test)) < 0.1  # alerts at random: ~10 % of both classes
    weak = compare_baselines(X_train, a_train, X_test, a_test, coin)
    lightgbm = weak[0]
    assert lightgbm.baseline_detection > lightgbm.model_detection + 0.5
    evidence = baseline_evidence(weak)
    assert evidence[0].status == "fail" and evidence[0].value == pytest.approx(lightgbm.margin)
    assert "LightGBM (defaults)" in evidence[0].metric


def test_no_baseline_is_not_evidenced_and_says_why():
    (row,) = baseline_evidence(None, "the training file is not here")
    assert row.status == "not_evidenced" and row.value is None
    assert "the training file is not here" in row.metric


@pytest.mark.slow
def test_assess_runs_the_baselines_on_the_training_file_and_p26_follows_them(tmp_path):
    train_csv, test_csv = tmp_path / "train.csv", tmp_path / "test.csv"
    small_flows(0).to_csv(train_csv, index=False)
    small_flows(1).to_csv(test_csv, index=False)
    model = train_small(small_flows(0), SMALL_SPEC, SMALL_SPEC_TEXT)
    save_model(model, tmp_path / "model")
    args = ["assess", "--model", str(tmp_path / "model"), "--data", str(test_csv), "--no-pdf"]
    assert main([*args, "--train", str(train_csv), "--out", str(tmp_path / "with")]) == 0
    assert main([*args, "--out", str(tmp_path / "without")]) == 0

    def read(name):
        report = json.loads((tmp_path / name / "report.json").read_text())
        rows = [e for e in report["evidence"] if e["check"] == "baseline comparison"]
        p26 = next(
            p for p in report["governance"]["crosswalk"]["practices"] if p["practice"] == "P26"
        )
        return rows, p26

    rows, p26 = read("with")
    assert len(rows) == 2 and all(isinstance(r["value"], float) for r in rows)
    assert p26["status"] == ("met" if all(r["status"] == "pass" for r in rows) else "not met")
    rows, p26 = read("without")
    assert [r["status"] for r in rows] == ["not_evidenced"] and "--train" in rows[0]["metric"]
    assert p26["status"] == "not evidenced"
