"""MouseVerifier: the Detector promises on synthetic actions, for both ways of fitting it
(owner against other users, and owner only), plus session scores and their explanations."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from trustshield.detectors import Detector
from trustshield.detectors.mouse import (
    MouseVerifier,
    first_actions,
    session_attributions,
    session_scores,
)
from trustshield.errors import DataError, NotFittedError
from trustshield.features.mouse_actions import FEATURES

SHIFTED = ("speed_mean", "click_time", "straightness", "curvature_std")


def actions(n, *, shift=0.0, seed=0):
    """Synthetic action features: every trait N(0, 1); another user's SHIFTED traits move."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))), columns=list(FEATURES))
    for name in SHIFTED:
        frame[name] += shift
    return frame


def training(seed=0):
    owner, other = actions(400, seed=seed), actions(400, shift=1.5, seed=seed + 1)
    X = pd.concat([owner, other], ignore_index=True)
    return X, np.r_[np.zeros(400, int), np.ones(400, int)]


def fitted(model, seed=0):
    X, y = training(seed)
    verifier = MouseVerifier(n_estimators=30, min_child_samples=10, seed=seed)
    return verifier.fit(X, y) if model == "contrast" else verifier.fit(X[y == 0])


@pytest.fixture(params=["contrast", "owner_only"])
def model(request):
    return request.param


def test_fit_returns_self_and_is_a_detector(model):
    X, y = training()
    verifier = MouseVerifier(n_estimators=10)
    assert isinstance(verifier, Detector)
    assert (verifier.fit(X, y) if model == "contrast" else verifier.fit(X[y == 0])) is verifier
    assert verifier.model_ == model


def test_scores_are_finite_one_per_action_and_owner_scores_lower(model):
    verifier = fitted(model)
    owner, other = actions(300, seed=7), actions(300, shift=1.5, seed=8)
    scores = verifier.suspicion(pd.concat([owner, other], ignore_index=True))
    assert scores.shape == (600,) and np.isfinite(scores).all()
    truth = np.r_[np.zeros(300), np.ones(300)]
    assert roc_auc_score(truth, scores) > 0.65  # one action says little
    sessions = np.arange(600) // 20  # 15 owner and 15 foreign sessions
    means = session_scores(scores, sessions=sessions)
    assert roc_auc_score(truth[::20], means.to_numpy()) > 0.95


def test_plain_json_round_trip_gives_identical_scores(model):
    verifier = fitted(model)
    X = actions(50, shift=0.7, seed=3)
    restored = MouseVerifier.from_dict(json.loads(json.dumps(verifier.to_dict())))
    np.testing.assert_array_equal(restored.suspicion(X), verifier.suspicion(X))
    assert restored.profile_ == verifier.profile_ and restored.model_ == model


def test_explanations_are_exact_and_name_the_features(model):
    verifier = fitted(model)
    X = actions(80, shift=0.7, seed=4)
    explained = verifier.explain(X)
    assert explained.feature_names == FEATURES and explained.values.shape == (80, len(FEATURES))
    assert np.abs(explained.total() - verifier.suspicion(X)).max() <= 1e-9


def test_the_traits_that_differ_carry_the_explanation(model):
    verifier = fitted(model)
    explained = verifier.explain(actions(200, shift=2.0, seed=5))
    mean = pd.Series(explained.values.mean(axis=0), index=FEATURES)
    assert set(mean.nlargest(4).index) & set(SHIFTED)
    assert mean[list(SHIFTED)].mean() > mean.drop(list(SHIFTED)).mean()


def test_the_profile_is_the_owners_alone():
    X, y = training()
    verifier = MouseVerifier(n_estimators=10).fit(X, y)
    assert verifier.profile_["speed_mean"] == pytest.approx(np.median(X.loc[y == 0, "speed_mean"]))
    assert verifier.profile_["is_pc"] == pytest.approx(X.loc[y == 0, "is_pc"].mean())


def test_errors_before_fit():
    verifier = MouseVerifier()
    for method in (verifier.suspicion, verifier.explain):
        with pytest.raises(NotFittedError, match="fit"):
            method(actions(5))
    with pytest.raises(NotFittedError, match="fit"):
        verifier.to_dict()


def test_bad_inputs_are_refused_with_what_was_expected():
    X, y = training()
    with pytest.raises(DataError, match="y must hold 0 .* or 1"):
        MouseVerifier().fit(X, np.full(len(X), 2))
    with pytest.raises(DataError, match="owner's training actions"):
        MouseVerifier().fit(X, np.ones(len(X), int))
    with pytest.raises(DataError, match="missing \\['jerk_max'\\]"):
        MouseVerifier().fit(X.drop(columns=["jerk_max"]), y)
    bad = X.copy()
    bad.loc[3, "speed_max"] = np.inf
    with pytest.raises(DataError, match="row 3, column 'speed_max'"):
        MouseVerifier().fit(bad, y)


def test_deterministic_and_refit_replaces_the_model():
    X, y = training()
    a = MouseVerifier(n_estimators=20, seed=1).fit(X, y).suspicion(X)
    b = MouseVerifier(n_estimators=20, seed=1).fit(X, y).suspicion(X)
    np.testing.assert_array_equal(a, b)
    verifier = MouseVerifier(n_estimators=20).fit(X, y)
    assert verifier.fit(X[y == 0]).model_ == "owner_only"
    assert "booster" not in verifier.to_dict()


def test_session_score_is_the_mean_of_its_first_k_actions():
    suspicion = np.array([1.0, 3.0, 100.0, -2.0, -4.0])
    sessions = np.array(["a", "a", "a", "b", "b"])
    assert session_scores(suspicion, sessions=sessions, n_actions=2).to_dict() == {
        "a": 2.0,
        "b": -3.0,
    }
    assert session_scores(suspicion, sessions=sessions)["a"] == pytest.approx(104 / 3)
    per_session = session_scores(suspicion, sessions=sessions, n_actions={"a": 1, "b": 2})
    assert per_session.to_dict() == {"a": 1.0, "b": -3.0}
    with pytest.raises(DataError, match="n_actions"):
        first_actions(sessions, 0)


def test_session_attributions_add_up_to_session_scores(model):
    verifier = fitted(model)
    X = actions(60, shift=0.5, seed=6)
    sessions = np.repeat(["s1", "s2", "s3"], 20)
    names, explained = session_attributions(verifier.explain(X), sessions=sessions, n_actions=7)
    scores = session_scores(verifier.suspicion(X), sessions=sessions, n_actions=7)
    assert list(names) == ["s1", "s2", "s3"]
    np.testing.assert_allclose(explained.total(), scores[names].to_numpy(), rtol=0, atol=1e-9)
