"""Every keystroke verifier keeps the one-user contract, checked one promise at a time."""

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.svm import OneClassSVM

from keystroke_typings import FEATURES, population, typist
from trustshield.detectors.keystroke import (
    BASELINES,
    KeystrokeVerifier,
    OneClassSVMVerifier,
    learn_feature_weights,
    learn_population,
    verifier_from_dict,
)
from trustshield.detectors.keystroke.base import NOT_NUMERIC
from trustshield.errors import DataError, ModelIntegrityError, NotExplainable, NotFittedError

WEIGHTS = {name: float(i + 1) for i, name in enumerate(FEATURES)}
_BACKGROUND = population(n_subjects=6, n_typings=31, seed=9)
PROFILE = learn_population(_BACKGROUND.drop(columns="Subject"), _BACKGROUND["Subject"], n_enrol=5)
FACTORIES = {
    **BASELINES,
    "ours (unit weights)": KeystrokeVerifier,
    "ours (weighted)": lambda: KeystrokeVerifier(weights=WEIGHTS),
    "ours (prior: contrast, drift, weights)": lambda: KeystrokeVerifier(
        population=PROFILE, contrast=0.5, drift=True, weights=WEIGHTS
    ),
}


@pytest.fixture(params=list(FACTORIES), ids=list(FACTORIES))
def make(request):
    return FACTORIES[request.param]


@pytest.fixture(scope="module")
def enrol():
    return typist(1, 25)


@pytest.fixture(scope="module")
def fresh():
    """New typings of the same subject, and typings far off (every latency doubled,
    pressure and area halved)."""
    near = typist(2, 20)
    far = typist(3, 20) * np.array([2.0, 2.0, 2.0, 0.5, 0.5, 2.0])
    return near, far


def test_fit_returns_self(make, enrol):
    verifier = make()
    assert verifier.fit(enrol) is verifier


def test_suspicion_is_finite_one_per_typing(make, enrol, fresh):
    scores = make().fit(enrol).suspicion(fresh[0])
    assert scores.shape == (len(fresh[0]),) and np.isfinite(scores).all()


def test_far_off_typings_are_more_suspicious(make, enrol, fresh):
    verifier = make().fit(enrol)
    near, far = verifier.suspicion(fresh[0]), verifier.suspicion(fresh[1])
    assert far.min() > np.median(near)
    assert far.mean() > near.mean()


def test_fitting_twice_gives_identical_scores(make, enrol, fresh):
    first = make().fit(enrol).suspicion(fresh[1])
    second = make().fit(enrol.copy()).suspicion(fresh[1])
    assert np.array_equal(first, second)


def test_json_round_trip_scores_identically(make, enrol, fresh):
    verifier = make().fit(enrol)
    state = json.loads(json.dumps(verifier.to_dict()))
    for loaded in (verifier_from_dict(state), type(verifier).from_dict(state)):
        assert type(loaded) is type(verifier)
        for typings in fresh:
            assert np.array_equal(loaded.suspicion(typings), verifier.suspicion(typings))


def test_explanations_are_exact_where_additive(make, enrol, fresh):
    verifier = make().fit(enrol)
    typings = pd.concat(fresh, ignore_index=True)
    if not verifier.additive:
        with pytest.raises(NotExplainable):
            verifier.explain(typings)
        return
    explained = verifier.explain(typings)
    scores = verifier.suspicion(typings)
    assert explained.values.shape == (len(typings), len(FEATURES))
    assert explained.feature_names == FEATURES
    np.testing.assert_allclose(explained.total(), scores, rtol=1e-9, atol=1e-9)
    assert explained.reference.shape == explained.values.shape


def test_explanation_base_is_the_typical_enrolment_total(make, enrol):
    verifier = make().fit(enrol)
    if verifier.additive:
        base = verifier.explain(enrol).base
        np.testing.assert_allclose(base, verifier.suspicion(enrol).mean(), rtol=1e-9)


def test_errors_before_fit_say_what_to_do(make, enrol):
    verifier = make()
    with pytest.raises(NotFittedError, match="fit"):
        verifier.suspicion(enrol)
    with pytest.raises(NotFittedError if verifier.additive else NotExplainable):
        verifier.explain(enrol)
    with pytest.raises(NotFittedError):
        verifier.to_dict()


def test_wrong_columns_are_refused_by_name(make, enrol):
    verifier = make().fit(enrol)
    with pytest.raises(DataError, match="Hold e"):
        verifier.suspicion(enrol.drop(columns="Hold e"))


def test_extra_columns_are_ignored(make, enrol, fresh):
    verifier = make().fit(enrol)
    wider = fresh[0].assign(Subject="s1")[["Subject", *reversed(FEATURES)]]
    assert np.array_equal(verifier.suspicion(wider), verifier.suspicion(fresh[0]))


def test_bad_values_are_refused_without_quoting_them(make, enrol):
    broken = enrol.copy()
    broken.loc[3, "DD i.e"] = np.nan
    with pytest.raises(DataError) as info:
        make().fit(broken)
    message = str(info.value)
    assert "DD i.e" in message and "biometric" in message
    assert f"{enrol.loc[4, 'DD i.e']:.3f}" not in message
    texts = enrol.astype(object)
    texts.loc[0, "Hold e"] = "ninety"
    with pytest.raises(DataError, match="Hold e"):
        make().fit(texts)
    with pytest.raises(DataError, match="DataFrame"):
        make().fit(enrol.to_numpy())


def test_too_few_enrolment_typings(make, enrol):
    with pytest.raises(DataError, match="at least"):
        make().fit(enrol.iloc[:1])


def test_state_of_another_kind_is_refused(enrol):
    state = BASELINES["Euclidean"]().fit(enrol).to_dict()
    with pytest.raises(ModelIntegrityError, match="keystroke-euclidean"):
        KeystrokeVerifier.from_dict(state)
    with pytest.raises(ModelIntegrityError, match="unknown"):
        verifier_from_dict({**state, "kind": "nonsense"})


def test_svm_scores_equal_scikit_learn_decision(enrol, fresh):
    verifier = OneClassSVMVerifier().fit(enrol)
    mean, sd = enrol.mean().to_numpy(), enrol.std(ddof=1).to_numpy()
    machine = OneClassSVM(nu=0.5, gamma="scale").fit((enrol.to_numpy() - mean) / sd)
    typings = pd.concat(fresh).to_numpy()
    np.testing.assert_allclose(
        verifier.suspicion(pd.concat(fresh)),
        -machine.decision_function((typings - mean) / sd),
        atol=1e-10,
    )


def test_mean_baselines_compare_with_the_mean_typing(enrol, fresh):
    explained = BASELINES["Manhattan (scaled)"]().fit(enrol).explain(fresh[0])
    np.testing.assert_allclose(explained.reference[0], enrol.mean().to_numpy())


def test_ours_blames_the_feature_that_moved_and_names_the_median(enrol):
    verifier = KeystrokeVerifier().fit(enrol)
    typing = enrol.median().to_frame().T
    typing["UD i.e"] *= 3.0
    explained = verifier.explain(typing)
    assert explained.feature_names[int(explained.values[0].argmax())] == "UD i.e"
    np.testing.assert_allclose(explained.reference[0], enrol.median().to_numpy(), rtol=1e-12)
    assert (explained.values[0][np.array(FEATURES) != "UD i.e"] <= 0).all()


def test_ours_caps_any_single_departure_at_clip_times_weight(enrol):
    verifier = KeystrokeVerifier(clip=5.0, weights=WEIGHTS).fit(enrol)
    typing = enrol.median().to_frame().T
    typing["DD i.e"] = 1e7  # a pause of hours
    assert verifier.suspicion(typing)[0] <= 5.0 * WEIGHTS["DD i.e"] + 1e-9
    typing["DD i.e"] = -50.0  # not a valid latency, still a finite large departure
    assert np.isfinite(verifier.suspicion(typing)).all()


def test_ours_without_a_clip_lets_one_departure_grow_and_round_trips(enrol):
    typing = enrol.median().to_frame().T
    typing["DD i.e"] = 1e7
    capped = KeystrokeVerifier(clip=5.0).fit(enrol)
    uncapped = KeystrokeVerifier(clip=None).fit(enrol)
    assert uncapped.suspicion(typing)[0] > 10 * capped.suspicion(typing)[0]
    state = json.loads(json.dumps(uncapped.to_dict(), allow_nan=False))
    assert state["params"]["clip"] is None
    assert np.array_equal(verifier_from_dict(state).suspicion(typing), uncapped.suspicion(typing))


def test_ours_needs_a_weight_for_every_feature(enrol):
    with pytest.raises(DataError, match="Size e"):
        KeystrokeVerifier(weights={k: v for k, v in WEIGHTS.items() if k != "Size e"}).fit(enrol)


def test_learned_weights_favour_features_that_carry_identity():
    frame = population(n_subjects=10, informative=3, seed=4)
    weights = learn_feature_weights(frame.drop(columns="Subject"), frame["Subject"])
    assert set(weights) == set(FEATURES)
    values = np.array([weights[f] for f in FEATURES])
    assert (values >= 0).all() and values.mean() == pytest.approx(1.0)
    assert values[:3].min() > values[3:].max()


def test_learning_weights_needs_two_usable_subjects():
    frame = population(n_subjects=2, n_typings=51)
    one = frame[frame.Subject == "s1"]
    with pytest.raises(DataError, match="at least 2"):
        learn_feature_weights(one.drop(columns="Subject"), one["Subject"])


def test_registered_as_the_keystroke_kind():
    from trustshield.detectors.verifiers import verifier_class

    assert verifier_class("keystroke") is KeystrokeVerifier


def test_not_numeric_message_is_a_module_constant():
    assert "{columns}" in NOT_NUMERIC
