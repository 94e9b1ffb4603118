"""The keystroke fairness study: consistent before/after figures on synthetic typists."""

import json

import pytest

from keystroke_typings import population
from trustshield.assess.keystroke_selection import SelectedFactory
from trustshield.assess.keystroke_fairness import AFTER, BEFORE, fairness_study

SMALL_GRID = {"log": (True,), "clip": (5.0,), "min_scale": (0.01,)}


@pytest.fixture(scope="module")
def study():
    frame = population(n_subjects=8, n_typings=34, seed=3)
    return json.loads(
        json.dumps(
            fairness_study(frame, SelectedFactory(grid=SMALL_GRID), subject_column="Subject"),
            allow_nan=False,
        )
    )


def test_before_and_after_are_the_global_and_adaptive_variants(study):
    assert study["before"] == study["variants"][BEFORE]
    assert study["after"] == study["variants"][AFTER]
    assert set(study["variants"]) == {"global", "per_user", "normalised", "adaptive"}
    for figures in study["variants"].values():
        assert figures["subjects"] == 8
        assert 0 <= figures["mean_frr"] <= figures["worst_decile_frr"] <= 1
        assert 0 <= figures["mean_far"] <= 1


def test_headline_changes_follow_from_the_two_variants(study):
    before, after = study["before"], study["after"]
    if before["worst_decile_frr"]:
        assert study["worst_decile_frr_ratio"] == pytest.approx(
            after["worst_decile_frr"] / before["worst_decile_frr"]
        )
    assert study["mean_far_increase"] == pytest.approx(after["mean_far"] - before["mean_far"])
    assert len(study["per_subject"]) == 8
    assert "template" in study["protocol"] and "global" in study["protocol"]
