"""Enrolment scores are out of fold; global, per-user and normalised calibration use
enrolment data only."""

import numpy as np
import pandas as pd
import pytest

from standin_verifier import ScaledManhattan, typings
from trustshield.decide.enrolment import accept_position, calibrate, calibration_scores
from trustshield.errors import DataError


class Recording(ScaledManhattan):
    """Refuses to score any sample it was fitted on (by a marker column)."""

    def fit(self, X):
        self.seen_ = set(X["id"])
        return super().fit(X.drop(columns="id"))

    def suspicion(self, X):
        assert not self.seen_ & set(X["id"]), "scored a sample the verifier was fitted on"
        return super().suspicion(X.drop(columns="id"))


@pytest.mark.parametrize("folds", [2, 5, 10, 100])
def test_genuine_enrolment_scores_are_out_of_fold(folds):
    X = typings(0, 30).assign(id=range(30))
    result = calibration_scores(Recording, X, folds=folds)
    assert result.genuine.shape == (30,) and np.isfinite(result.genuine).all()
    assert result.impostor is None
    assert result.verifier.seen_ == set(range(30))  # the kept verifier saw every sample


def test_background_is_scored_by_the_users_own_verifier():
    mine, others = typings(0, 40), typings(1, 60, centre=160.0)
    result = calibration_scores(ScaledManhattan, mine, background=others)
    assert result.impostor.shape == (60,)
    assert np.median(result.impostor) > np.quantile(result.genuine, 0.99)


def test_calibration_needs_two_samples():
    with pytest.raises(DataError, match="at least 2"):
        calibration_scores(ScaledManhattan, typings(0, 1))


def population(n_users=10, seed=0):
    """Genuine and impostor enrolment scores; user k's genuine spread grows with k."""
    rng = np.random.default_rng(seed)
    genuine = {f"u{k}": rng.gamma(4, 0.1 * (1 + k), 200) for k in range(n_users)}
    impostor = {f"u{k}": rng.gamma(4, 0.1 * (1 + k), 200) + 3.0 * (1 + k) for k in range(n_users)}
    return genuine, impostor


def test_global_calibration_shares_one_pair_of_thresholds():
    genuine, impostor = population()
    policies = calibrate(genuine, impostor, calibration="global")
    pairs = {(p.accept_threshold_, p.deny_threshold_) for p in policies.values()}
    assert len(pairs) == 1 and set(policies) == set(genuine)


def test_per_user_calibration_gives_each_user_their_own_false_rejection_rate():
    genuine, impostor = population()
    per_user = calibrate(genuine, impostor, calibration="per_user", accept_quantile=0.9)
    shared = calibrate(genuine, impostor, calibration="global", accept_quantile=0.9)
    rejected = {
        name: {u: np.mean(genuine[u] > p[u].accept_threshold_) for u in genuine}
        for name, p in (("per_user", per_user), ("global", shared))
    }
    assert max(rejected["per_user"].values()) <= 0.1 + 1e-9
    assert max(rejected["global"].values()) > 0.3  # the widest typist suffers globally
    assert per_user["u0"].accept_threshold_ < per_user["u9"].accept_threshold_


def test_unknown_calibration_is_refused():
    with pytest.raises(DataError, match="per_user"):
        calibrate({"a": np.ones(3)}, calibration="pooled")


def test_a_population_is_calibrated_from_enrolment_frames_alone():
    """Each user's background is the other users' enrolment samples; no test frame exists."""
    users = {f"u{k}": typings(k, 30, centre=100.0 + 40 * k) for k in range(3)}
    genuine, impostor = {}, {}
    for user, X in users.items():
        background = pd.concat([v for u, v in users.items() if u != user])
        result = calibration_scores(ScaledManhattan, X, background=background)
        genuine[user], impostor[user] = result.genuine, result.impostor
    for calibration in ("global", "per_user", "normalised"):
        policies = calibrate(genuine, impostor, calibration=calibration)
        assert set(policies) == set(users)
        assert all(p.accept_threshold_ <= p.deny_threshold_ for p in policies.values())


def test_normalised_calibration_places_every_user_at_one_shared_position():
    genuine, impostor = population()
    policies = calibrate(genuine, impostor, calibration="normalised", accept_quantile=0.9)
    position = accept_position(genuine, impostor, quantile=0.9)
    assert {p.accept_position for p in policies.values()} == {position}
    for user, policy in policies.items():
        centre, far = np.median(genuine[user]), np.median(impostor[user])
        assert policy.accept_threshold_ == pytest.approx(centre + position * (far - centre))
    placed = np.concatenate(
        [
            (genuine[u] - np.median(genuine[u])) / (np.median(impostor[u]) - np.median(genuine[u]))
            for u in genuine
        ]
    )
    assert np.mean(placed <= position) == pytest.approx(0.9, abs=0.001)


def test_normalised_calibration_needs_a_background_for_every_user():
    genuine, impostor = population()
    del impostor["u3"]
    with pytest.raises(DataError, match="u3"):
        calibrate(genuine, impostor, calibration="normalised")
