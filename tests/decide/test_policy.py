"""ThresholdPolicy: calibrated on normal training scores, alert / review / allow."""

import numpy as np
import pytest

from trustshield.decide.policy import ThresholdPolicy
from trustshield.errors import DataError, NotFittedError
from trustshield.records import ALERT, ALLOW, REVIEW


@pytest.fixture
def normal_scores():
    return np.random.default_rng(0).normal(size=5000)


@pytest.mark.parametrize("ceiling", [0.01, 0.03, 0.1])
def test_alert_rate_on_calibration_normals_stays_within_the_ceiling(normal_scores, ceiling):
    policy = ThresholdPolicy(max_normal_fpr=ceiling, review_normal_fpr=0.2).fit(
        normal_scores=normal_scores
    )
    alerted = policy.decide(normal_scores).alerted.mean()
    assert alerted <= ceiling
    assert alerted >= ceiling - 0.005  # the ceiling is used, not wasted


def test_review_band_sits_between_review_and_alert_thresholds(normal_scores):
    policy = ThresholdPolicy(max_normal_fpr=0.02, review_normal_fpr=0.1).fit(
        normal_scores=normal_scores
    )
    decision = policy.decide(normal_scores)
    review = decision.actions == REVIEW
    assert 0.07 < review.mean() < 0.09
    assert (normal_scores[review] < policy.alert_threshold_).all()
    assert (normal_scores[review] >= policy.review_threshold_).all()
    assert set(decision.actions) == {ALERT, REVIEW, ALLOW}


def test_floor_raises_the_alert_threshold(normal_scores):
    policy = ThresholdPolicy(max_normal_fpr=0.3, review_normal_fpr=0.4, floor=2.5).fit(
        normal_scores=normal_scores
    )
    assert policy.alert_threshold_ >= 2.5
    assert not policy.decide(np.array([2.4])).alerted.any()


def test_decide_before_fit_says_what_to_do():
    with pytest.raises(NotFittedError, match="fit"):
        ThresholdPolicy().decide(np.zeros(3))


@pytest.mark.parametrize("alert, review", [(0.0, 0.1), (0.2, 0.1), (0.1, 1.0)])
def test_inconsistent_rates_are_refused(normal_scores, alert, review):
    with pytest.raises(DataError, match="max_normal_fpr"):
        ThresholdPolicy(max_normal_fpr=alert, review_normal_fpr=review).fit(
            normal_scores=normal_scores
        )


def test_round_trip_keeps_decisions(normal_scores):
    policy = ThresholdPolicy().fit(normal_scores=normal_scores)
    restored = ThresholdPolicy.from_dict(policy.to_dict())
    np.testing.assert_array_equal(
        restored.decide(normal_scores).actions, policy.decide(normal_scores).actions
    )
