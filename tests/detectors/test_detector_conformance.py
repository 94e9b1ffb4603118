"""Every Detector passes the same suite: the protocol's promises, checked one by one (and
the public trustshield.testing.check_detector, which checks them all)."""

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from trustshield.detectors import (
    Detector,
    GradientBoostedDetector,
    HybridDetector,
    NormalPrototypeDetector,
    detector_from_dict,
)
from trustshield.errors import DataError, NotFittedError
from synthetic import synthetic_traffic

CATEGORICAL = ("service",)


def make_gbdt(seed=0):
    return GradientBoostedDetector(n_estimators=20, categorical=CATEGORICAL, seed=seed)


def make_prototype(seed=0):
    return NormalPrototypeDetector(
        n_prototypes=16, categorical=CATEGORICAL, log_features=("bytes", "count"), seed=seed
    )


def make_prototype_minmax(seed=0):
    return NormalPrototypeDetector(
        n_prototypes=16,
        scaling="minmax",
        categorical=CATEGORICAL,
        log_features=("bytes", "count"),
        seed=seed,
    )


def make_hybrid(seed=0):
    return HybridDetector(make_gbdt(seed), make_prototype(seed), n_folds=3, seed=seed)


# the hybrid fits its parts once per fold for its out-of-fold scores: seconds per test
FACTORIES = [
    make_gbdt,
    make_prototype,
    make_prototype_minmax,
    pytest.param(make_hybrid, marks=pytest.mark.slow),
]
IDS = ["gbdt", "prototype-quantile", "prototype-minmax", "hybrid"]


def fit(detector, X, labels, categories):
    if isinstance(detector, NormalPrototypeDetector):
        return detector.fit(X, labels)
    return detector.fit(X, labels, categories)


@pytest.fixture(params=FACTORIES, ids=IDS)
def factory(request):
    return request.param


def test_is_a_detector_and_fit_returns_self(factory, traffic):
    detector = factory()
    assert isinstance(detector, Detector)
    assert fit(detector, *traffic) is detector


def test_suspicion_is_finite_with_one_score_per_row(factory, traffic):
    X = traffic[0]
    scores = fit(factory(), *traffic).suspicion(X)
    assert scores.shape == (len(X),)
    assert np.isfinite(scores).all()


def test_higher_means_more_suspicious_on_unseen_records(factory, traffic):
    detector = fit(factory(), *traffic)
    X_new, labels_new, _ = synthetic_traffic(seed=1)
    auc = roc_auc_score(labels_new != "normal", detector.suspicion(X_new))
    assert auc > 0.8


def test_deterministic_under_a_seed(factory, traffic):
    a = fit(factory(seed=3), *traffic).suspicion(traffic[0])
    b = fit(factory(seed=3), *traffic).suspicion(traffic[0])
    np.testing.assert_array_equal(a, b)


def test_input_is_not_mutated(factory, traffic):
    X, labels, categories = traffic
    X_before, labels_before = X.copy(), labels.copy()
    detector = fit(factory(), X, labels, categories)
    detector.suspicion(X)
    detector.explain(X)
    assert X.equals(X_before)
    np.testing.assert_array_equal(labels, labels_before)


def test_clear_error_before_fit(factory, traffic):
    with pytest.raises(NotFittedError, match="fit"):
        factory().suspicion(traffic[0])
    with pytest.raises(NotFittedError, match="fit"):
        factory().explain(traffic[0])


def test_clear_error_on_a_wrong_column_set(factory, traffic):
    detector = fit(factory(), *traffic)
    with pytest.raises(DataError, match="error_rate"):
        detector.suspicion(traffic[0].drop(columns=["error_rate"]))


def test_reordered_columns_give_the_same_scores(factory, traffic):
    X = traffic[0]
    detector = fit(factory(), *traffic)
    np.testing.assert_allclose(
        detector.suspicion(X[list(reversed(X.columns))]), detector.suspicion(X)
    )


def test_explanations_are_exact(factory, traffic):
    X = traffic[0]
    detector = fit(factory(), *traffic)
    attributions = detector.explain(X)
    assert attributions.values.shape == (len(X), X.shape[1])
    assert attributions.feature_names == tuple(X.columns)
    assert np.abs(attributions.total() - detector.suspicion(X)).max() <= 1e-6


def test_state_round_trips_through_plain_json(factory, traffic):
    X = traffic[0]
    detector = fit(factory(), *traffic)
    state = json.loads(json.dumps(detector.to_dict()))
    restored = detector_from_dict(state)
    np.testing.assert_allclose(restored.suspicion(X), detector.suspicion(X), rtol=0, atol=1e-9)


@pytest.mark.parametrize("scaling", ["quantile", "minmax"])
def test_prototype_reference_reads_a_profile_back_in_feature_units(traffic, scaling):
    X, labels, _ = traffic
    normal = X[labels == "normal"]
    detector = NormalPrototypeDetector(
        n_prototypes=len(normal),
        scaling=scaling,
        categorical=CATEGORICAL,
        log_features=("bytes", "count"),
    )
    detector.fit(normal)
    explained = detector.explain(normal)
    # every normal row is its own prototype: distance 0, and the profile is the row itself
    assert np.abs(explained.total()).max() < 1e-9
    np.testing.assert_allclose(explained.reference, normal.to_numpy(), rtol=1e-9, atol=1e-9)


def test_passes_the_public_check_detector(factory, traffic):
    from trustshield.testing import check_detector

    X, labels, _ = traffic
    report = check_detector(factory(), X, labels)
    assert report.registered and report.explainable and "round_trip" in report.passed


def test_hybrid_operating_points_are_a_hyperparameter_applied_without_refit(traffic):
    X, labels, categories = traffic
    hybrid = make_hybrid(0).fit(X, labels, categories)
    default = hybrid.suspicion(X)
    raw = hybrid.component_scores(X)
    points = tuple(np.quantile(hybrid.normal_out_of_fold(), 0.9, axis=0))
    hybrid.set_params(operating_points=points)
    moved = hybrid.suspicion(X)
    assert not np.allclose(moved, default)
    np.testing.assert_allclose(moved, hybrid.scaled(raw, points).max(axis=1))
    rebuilt = detector_from_dict(json.loads(json.dumps(hybrid.to_dict())))
    assert rebuilt.get_params(deep=False)["operating_points"] == pytest.approx(points)
    np.testing.assert_array_equal(rebuilt.suspicion(X), moved)
    hybrid.set_params(operating_points=(1.0,))
    with pytest.raises(DataError, match="operating_points must be 2 finite raw scores"):
        hybrid.suspicion(X)
