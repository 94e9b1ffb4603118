"""Label-flip poisoning: flips, the out-of-fold sanitiser, the study and its Evidence."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows
from trustshield.assess.robustness.poisoning import (
    MAX_DETECTION_DROP,
    flip_labels,
    largest_attack_category,
    poisoning_evidence,
)
from trustshield.pipeline.poisoning import poisoning_study, sanitise
from trustshield.pipeline.train import TrainConfig

FAST = TrainConfig(n_prototypes=8, n_estimators=10, n_threads=1, capacity="fixed")


# ---------------------------------------------------------------- flip_labels


def test_flips_round_rate_times_attacks_and_only_attacks(traffic):
    _, labels, categories = traffic
    attacks = int((labels != "normal").sum())
    for rate in (0.01, 0.05, 0.1, 0.333):
        new, flipped = flip_labels(labels, categories, rate=rate, normal_label="normal", seed=1)
        assert flipped.sum() == round(rate * attacks)
        assert (labels[flipped] != "normal").all()
        assert (new[flipped] == "normal").all()
        assert (new[~flipped] == labels[~flipped]).all()
    assert labels.dtype == object and (labels != "normal").sum() == attacks  # input untouched


def test_targeted_flips_stay_in_the_category_and_count_against_all_attacks(traffic):
    _, labels, categories = traffic
    attacks = int((labels != "normal").sum())
    _, flipped = flip_labels(
        labels, categories, rate=0.2, target="Probe", normal_label="normal", seed=0
    )
    assert flipped.sum() == round(0.2 * attacks)
    assert set(categories[flipped]) == {"Probe"}
    probes = int((categories == "Probe").sum())
    _, everything = flip_labels(
        labels, categories, rate=1.0, target="Probe", normal_label="normal", seed=0
    )
    assert everything.sum() == probes < attacks  # capped at the category's size


def test_flips_are_deterministic_under_seed(traffic):
    _, labels, categories = traffic
    a = flip_labels(labels, categories, rate=0.1, normal_label="normal", seed=7)[1]
    b = flip_labels(labels, categories, rate=0.1, normal_label="normal", seed=7)[1]
    c = flip_labels(labels, categories, rate=0.1, normal_label="normal", seed=8)[1]
    assert (a == b).all()
    assert not (a == c).all()


def test_flip_edge_cases(traffic):
    _, labels, categories = traffic
    assert not flip_labels(labels, categories, rate=0.0, normal_label="normal", seed=0)[1].any()
    with pytest.raises(ValueError, match="rate"):
        flip_labels(labels, categories, rate=1.5, normal_label="normal", seed=0)
    with pytest.raises(ValueError, match="U2R"):
        flip_labels(labels, categories, rate=0.1, target="U2R", normal_label="normal", seed=0)
    benign = np.where(labels == "normal", "benign", labels)  # another normal label
    new, flipped = flip_labels(benign, categories, rate=0.1, normal_label="benign", seed=0)
    assert (new[flipped] == "benign").all() and (benign[flipped] != "benign").all()


def test_largest_attack_category(traffic):
    _, labels, categories = traffic
    attack_categories = categories[labels != "normal"]
    expected = max(("DoS", "Probe"), key=lambda c: (attack_categories == c).sum())
    assert largest_attack_category(categories, labels, "normal") == expected


# ---------------------------------------------------------------- sanitise


@pytest.mark.parametrize("target", [None, "DoS"])
def test_sanitiser_finds_flipped_attacks_far_more_often_than_clean_normals(traffic, target):
    X, labels, categories = traffic
    poisoned, flipped = flip_labels(
        labels, categories, rate=0.1, target=target, normal_label="normal", seed=3
    )
    flagged = sanitise(X, poisoned, normal_label="normal", categorical=("service",), config=FAST)
    recall = flagged[flipped].mean()
    genuine_normal = labels == "normal"
    false_flag_rate = flagged[genuine_normal].mean()
    assert recall >= 0.8
    assert false_flag_rate <= 0.05
    assert recall > 10 * false_flag_rate
    assert not flagged[poisoned != "normal"].any()  # only normal-labelled rows are ever flagged


def test_sanitiser_flags_nothing_much_when_attacks_are_separable_and_labels_clean(traffic):
    X, labels, _ = traffic
    flagged = sanitise(X, labels, normal_label="normal", categorical=("service",), config=FAST)
    assert flagged.mean() <= 0.02


def test_sanitiser_threshold_is_monotone(traffic):
    X, labels, categories = traffic
    poisoned, _ = flip_labels(labels, categories, rate=0.1, normal_label="normal", seed=0)
    loose = sanitise(X, poisoned, normal_label="normal", threshold=0.05, config=FAST)
    strict = sanitise(X, poisoned, normal_label="normal", threshold=0.95, config=FAST)
    assert (strict <= loose).all()  # every strictly flagged row is also loosely flagged


# ---------------------------------------------------------------- study, end to end on tiny data

SPEC, SPEC_TEXT = SMALL_SPEC, SMALL_SPEC_TEXT


def tiny_frame(seed: int) -> pd.DataFrame:
    return small_flows(seed)


@pytest.fixture(scope="module")
def study():
    return poisoning_study(tiny_frame(0), tiny_frame(1), SPEC, rates=(0.1,), config=FAST)


def test_study_defaults_to_random_and_largest_category(study):
    assert study["targets"] == [None, "DoS"]
    assert [(r["rate"], r["target"]) for r in study["runs"]] == [(0.1, None), (0.1, "DoS")]
    assert all(r["flipped"] == round(0.1 * 120) for r in study["runs"])
    json.dumps(study)  # plain JSON


def test_study_figures_are_consistent(study):
    clean = study["clean"]
    assert clean["sanitised"]["recall"] is None  # nothing flipped in the clean run
    for r in study["runs"]:
        p, s = r["poisoned"], r["sanitised"]
        for figures in (p, s):
            assert 0 <= figures["detection_rate"] <= 1 and 0 <= figures["fpr"] <= 1
        assert r["drop"] == pytest.approx(clean["detection_rate"] - p["detection_rate"])
        assert r["recovery"] == pytest.approx(s["detection_rate"] - p["detection_rate"])
        assert 0 <= s["dropped_flipped"] <= min(s["dropped_rows"], r["flipped"])
        assert s["recall"] == pytest.approx(s["dropped_flipped"] / r["flipped"])
        if s["dropped_rows"]:
            assert s["precision"] == pytest.approx(s["dropped_flipped"] / s["dropped_rows"])
        assert s["recall"] >= 0.5  # separable attacks: the sanitiser catches most flips


# ---------------------------------------------------------------- evidence


def _study(drop, sanitised_rate, clean_rate=0.9):
    run = {
        "rate": 0.05,
        "target": None,
        "drop": drop,
        "sanitised": {"detection_rate": sanitised_rate},
    }
    return {"clean": {"detection_rate": clean_rate}, "runs": [run]}


def test_evidence_verdicts():
    passed, recovered = poisoning_evidence(_study(MAX_DETECTION_DROP / 2, 0.9))
    assert passed.status == "pass" and passed.value == MAX_DETECTION_DROP / 2
    assert recovered.status == "pass" and recovered.value == pytest.approx(0.0)
    failed, still_bad = poisoning_evidence(_study(MAX_DETECTION_DROP * 2, 0.5))
    assert failed.status == "fail" and still_bad.status == "fail"
    assert all("EU AI Act Art. 15 (robustness)" in e.principles for e in (passed, failed))


def test_evidence_without_the_5_percent_random_run_is_not_evidenced():
    other = {
        "clean": {"detection_rate": 0.9},
        "runs": [
            {"rate": 0.05, "target": "DoS", "drop": 0.0, "sanitised": {"detection_rate": 0.9}}
        ],
    }
    for study in ({}, other):
        assert {e.status for e in poisoning_evidence(study)} == {"not_evidenced"}
