"""AuthPolicy: thresholds from enrolment data only; deny needs agreement; every failure
asks for a second factor instead of denying."""

import inspect
import math

import numpy as np
import pytest

from standin_verifier import ScaledManhattan, typings
from trustshield.decide.authentication import AuthPolicy, decide_safely, score_samples
from trustshield.decide.enrolment import calibration_scores
from trustshield.errors import DataError, ModelIntegrityError, NotFittedError
from trustshield.records import ACCEPT, DENY, STEP_UP, AuthDecision


def fitted(accept=1.0, deny=2.0, **parameters) -> AuthPolicy:
    return AuthPolicy.from_dict(
        {**AuthPolicy(**parameters).__dict__, "accept_threshold": accept, "deny_threshold": deny}
    )


# (scores of one attempt, expected action): accept ≤ 1.0 < uncertain ≤ 2.0 < deny
RULES = [
    ([0.5], ACCEPT),  # one sample may accept
    ([0.5, 0.9, 1.0], ACCEPT),  # at the threshold is accepted
    ([1.5], STEP_UP),  # uncertain band
    ([1.5, 1.8, 1.9], STEP_UP),  # uncertain band, several samples
    ([5.0], STEP_UP),  # one sample above deny: no agreement
    ([5.0, 6.0], STEP_UP),  # two agree: fewer than min_agreeing
    ([5.0, 6.0, 7.0], DENY),  # three agree
    ([5.0, 6.0, 7.0, 0.1, 0.2, 0.3, 0.4], STEP_UP),  # three above, not a majority: conflict
    ([5.0, 6.0, 7.0, 8.0, 0.1], DENY),  # four of five agree
    ([5.0, 6.0, None], STEP_UP),  # a missing sample, never deny
    ([5.0, 6.0, 7.0, None], STEP_UP),  # even when three agree
    ([5.0, 6.0, 7.0, float("nan")], STEP_UP),  # non-finite score
    ([5.0, 6.0, 7.0, float("inf")], STEP_UP),
    ([0.1, 0.2, None], STEP_UP),  # a malformed sample does not accept either
    ([], STEP_UP),  # no samples at all
]


@pytest.mark.parametrize(("scores", "action"), RULES)
def test_each_rule_of_the_decision_table(scores, action):
    decision = fitted().decide(scores)
    assert decision.action == action, decision.reason
    assert isinstance(decision, AuthDecision) and decision.reason
    assert len(decision.scores) == len(scores)


def test_fewer_samples_than_needed_steps_up():
    policy = fitted(min_samples=3)
    assert policy.decide([0.1, 0.2]).action == STEP_UP
    assert "at least 3" in policy.decide([0.1, 0.2]).reason
    assert policy.decide([0.1, 0.2, 0.3]).action == ACCEPT


@pytest.mark.parametrize("min_agreeing", [2, 3, 5])
def test_deny_needs_min_agreeing_samples_above_the_deny_threshold(min_agreeing):
    policy = fitted(min_agreeing=min_agreeing)
    for n in range(1, 8):
        expected = DENY if n >= min_agreeing else STEP_UP
        assert policy.decide([9.0] * n).action == expected


def test_deny_cannot_be_configured_for_a_single_sample():
    with pytest.raises(DataError, match="agreement"):
        AuthPolicy(min_agreeing=1).fit(genuine=np.arange(10.0))


def test_thresholds_are_fitted_only_from_enrolment_scores():
    # genuine and impostor enrolment scores, and the ceiling over the enrolment range
    assert list(inspect.signature(AuthPolicy.fit).parameters) == [
        "self",
        "genuine",
        "impostor",
        "ceiling",
    ]
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY
        for name, p in inspect.signature(AuthPolicy.fit).parameters.items()
        if name != "self"
    )


def test_accept_threshold_is_the_genuine_quantile_and_deny_lies_above():
    genuine = np.random.default_rng(0).gamma(2.0, 1.0, 1000)
    policy = AuthPolicy(accept_quantile=0.9, deny_quantile=0.99).fit(genuine=genuine)
    assert np.mean(genuine <= policy.accept_threshold_) == pytest.approx(0.9, abs=0.002)
    assert np.mean(genuine > policy.deny_threshold_) <= 0.01
    assert policy.deny_threshold_ >= policy.accept_threshold_


def test_background_impostors_raise_the_deny_threshold():
    rng = np.random.default_rng(1)
    genuine, impostor = rng.normal(1, 0.2, 500), rng.normal(1.6, 0.3, 500)
    plain = AuthPolicy().fit(genuine=genuine)
    with_background = AuthPolicy(impostor_quantile=0.5).fit(genuine=genuine, impostor=impostor)
    assert with_background.deny_threshold_ == pytest.approx(np.quantile(impostor, 0.5), abs=0.01)
    assert with_background.deny_threshold_ > plain.deny_threshold_


def test_accept_position_places_the_threshold_between_genuine_and_impostor_medians():
    # three scores are a short enrolment: each fit is given its ceiling (see below)
    genuine, impostor = np.array([1.0, 2.0, 3.0]), np.array([10.0, 12.0, 14.0])
    policy = AuthPolicy(accept_position=0.25).fit(genuine=genuine, impostor=impostor, ceiling=3.0)
    assert policy.accept_threshold_ == pytest.approx(2.0 + 0.25 * (12.0 - 2.0))
    with pytest.raises(DataError, match="background impostor scores"):
        AuthPolicy(accept_position=0.25).fit(genuine=genuine, ceiling=3.0)
    no_scale = AuthPolicy(accept_position=0.25).fit(
        genuine=impostor, impostor=genuine, ceiling=14.0
    )
    assert no_scale.accept_threshold_ == 14.0  # impostors lie lower: keep the quantile


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [[1.0, 2.0]]])
def test_calibration_refuses_empty_or_non_finite_scores(bad):
    with pytest.raises(DataError, match="genuine"):
        AuthPolicy().fit(genuine=np.array(bad, dtype=float))


def test_an_unfitted_policy_says_so():
    with pytest.raises(NotFittedError, match="AuthPolicy"):
        AuthPolicy().decide([0.1])


def test_state_round_trips_through_plain_json():
    import json

    policy = AuthPolicy(min_agreeing=4).fit(genuine=np.linspace(0, 1, 50))
    again = AuthPolicy.from_dict(json.loads(json.dumps(policy.to_dict())))
    assert again.to_dict() == policy.to_dict()
    assert again.decide([9.0] * 4).action == DENY


def test_score_samples_marks_malformed_rows_none():
    verifier = ScaledManhattan().fit(typings(0, 20))
    frame = typings(1, 4).astype(object)
    frame.iloc[1, 0], frame.iloc[2, 2], frame.iloc[3, 1] = np.nan, "oops", np.inf
    scores = score_samples(verifier, frame)
    assert scores[0] is not None and scores[1:] == [None, None, None]
    rows = [typings(1, 1).iloc[0], None, dict(typings(2, 1).iloc[0])]
    assert [s is None for s in score_samples(verifier, rows)] == [False, True, False]


def load_ok():
    verifier = ScaledManhattan().fit(typings(0, 40))
    return verifier, AuthPolicy().fit(
        genuine=calibration_scores(ScaledManhattan, typings(0, 40)).genuine
    )


def broken(exc):
    def load():
        raise exc

    return load


class Exploding(ScaledManhattan):
    def suspicion(self, X):
        raise RuntimeError("cannot score 103.125")


class NonFinite(ScaledManhattan):
    def suspicion(self, X):
        return np.full(len(X), np.nan)


def load_with(cls):
    def load():
        return cls().fit(typings(0, 40)), fitted()

    return load


def impostor_attempt():
    return typings(7, 5, centre=400.0)


FAILURES = [
    ("template missing or unreadable", broken(FileNotFoundError("no template")), impostor_attempt),
    ("template altered", broken(ModelIntegrityError("failed authentication")), impostor_attempt),
    ("verifier class unavailable", broken(ImportError("no module")), impostor_attempt),
    ("samples unreadable", load_ok, lambda: (_ for _ in ()).throw(DataError("bad file"))),
    ("verifier raises while scoring", load_with(Exploding), impostor_attempt),
    ("verifier returns NaN", load_with(NonFinite), impostor_attempt),
    (
        "a sample is malformed",
        load_ok,
        lambda: [*[r for _, r in impostor_attempt().iterrows()], None],
    ),
]


@pytest.mark.parametrize(("case", "load", "samples"), FAILURES, ids=[c[0] for c in FAILURES])
def test_every_failure_steps_up_and_never_denies(case, load, samples):
    assert decide_safely(load_ok, impostor_attempt()).action == DENY  # the attempt alone denies
    decision = decide_safely(load, samples)
    assert decision.action == STEP_UP, case
    assert decision.reason


def test_scoring_errors_are_reported_by_type_without_their_message():
    decision = decide_safely(load_with(Exploding), impostor_attempt())
    assert "RuntimeError" in decision.reason and "103.125" not in decision.reason


def test_genuine_attempts_are_accepted_by_a_calibrated_policy():
    decision = decide_safely(load_ok, typings(3, 5))
    assert decision.action == ACCEPT, decision.reason
    assert all(s is not None and math.isfinite(s) for s in decision.scores)


def test_decision_refuses_an_unknown_action():
    with pytest.raises(ValueError, match="step_up"):
        AuthDecision("maybe", "no reason")
