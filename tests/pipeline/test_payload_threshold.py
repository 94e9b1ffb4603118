"""The payload threshold rule: out-of-fold scores, a Clopper-Pearson bound, and the rule
with its training-data figures kept in the model file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from trustshield.errors import DataError
from trustshield.ingest.payloads import PayloadTable
from trustshield.pipeline.payload_benchmark import (
    THRESHOLD_RULE,
    Settings,
    choose_threshold,
    fpr_upper_bound,
)
from trustshield.pipeline.payload_model import (
    load_payload_model,
    save_payload_model,
    train_payload_model,
)

#: small and fast: no rewritten variants, 2**12 buckets, a 5 % target so a few hundred
#: normal rows leave room above the threshold
SETTINGS = Settings(target_fpr=0.05, confidence=0.95, folds=3, augment=0, bits=12)


def random_strings(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789"))
    return ["".join(rng.choice(letters, 10)) for _ in range(n)]


@pytest.fixture(scope="module")
def overfit_model():
    """Normal and "attack" rows drawn from the same random strings: nothing generalises,
    so the model can only memorise its training rows."""
    rng = np.random.default_rng(7)
    payloads = random_strings(rng, 360)
    labels = ["normal"] * 240 + ["sqli"] * 120
    return train_payload_model(
        PayloadTable(tuple(payloads), tuple(labels), "memo.csv"), settings=SETTINGS
    )


def test_out_of_fold_threshold_is_above_the_in_sample_one_when_the_model_overfits(overfit_model):
    rule = overfit_model.training["threshold_rule"]
    assert rule["rule"] == THRESHOLD_RULE
    assert overfit_model.threshold == rule["threshold"]
    # the final model saw the normal rows, so it scores them lower than unseen ones
    assert rule["threshold"] > rule["in_sample_threshold"]
    assert rule["in_sample_fpr"] < rule["oof_fpr"]


def test_the_recorded_rule_keeps_its_bound_within_the_target(overfit_model):
    rule = overfit_model.training["threshold_rule"]
    assert rule["normal_rows"] == 240 and rule["folds"] == 3 and rule["confidence"] == 0.95
    assert rule["oof_fpr"] == pytest.approx(rule["oof_exceeding"] / 240)
    assert rule["oof_fpr"] <= rule["oof_fpr_upper"] <= SETTINGS.target_fpr
    assert overfit_model.training["oof_fpr"] == rule["oof_fpr"]


def test_the_rule_and_its_figures_survive_the_model_file(overfit_model, tmp_path):
    save_payload_model(overfit_model, tmp_path / "m.json")
    doc = json.loads((tmp_path / "m.json").read_text())
    assert doc["training"]["threshold_rule"]["rule"] == THRESHOLD_RULE
    assert doc["training"]["threshold_rule"]["threshold"] == doc["threshold"]
    loaded = load_payload_model(tmp_path / "m.json")
    assert loaded.training["threshold_rule"] == overfit_model.training["threshold_rule"]


def test_choose_threshold_counts_what_lies_above_it():
    oof = np.arange(1000, dtype=float)
    seen = oof - 500.0  # the same rows, scored lower by a model that saw them
    s = Settings(target_fpr=0.01, confidence=0.95)
    choice = choose_threshold(oof, seen, s)
    assert choice.oof_exceeding == int((oof > choice.threshold).sum())
    assert 0 < choice.oof_exceeding < 10  # the bound leaves fewer than the plain 1 %
    assert choice.oof_fpr_upper == fpr_upper_bound(choice.oof_exceeding, 1000, 0.95)
    assert choice.oof_fpr_upper <= 0.01 < fpr_upper_bound(choice.oof_exceeding + 1, 1000, 0.95)
    assert choice.in_sample_threshold == choice.threshold - 500.0
    assert choice.in_sample_fpr == 0.0


def test_choose_threshold_refuses_scores_of_different_rows():
    with pytest.raises(DataError, match="out-of-fold and in-sample"):
        choose_threshold(np.zeros(5), np.zeros(4), Settings())
