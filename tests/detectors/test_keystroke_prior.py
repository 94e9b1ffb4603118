"""What a background population teaches the keystroke verifier: the population profile,
the population contrast and drift, the prior that carries them, and the ceiling over an
enrolment range that the short-enrolment guard relies on."""

import json

import numpy as np
import pandas as pd
import pytest

from keystroke_typings import FEATURES, population, typist
from trustshield.detectors.keystroke import (
    BASELINES,
    KeystrokePrior,
    KeystrokeVerifier,
    PopulationProfile,
    learn_population,
    learn_prior,
    verifier_from_dict,
)
from trustshield.errors import DataError, ModelIntegrityError

LATENCIES = ["Hold e", "DD i.e", "UD i.e", "Hold Shift.1"]


def settling(n_subjects=8, n_typings=31, speed_up=0.8, seed=0):
    """population() whose subjects type every latency ``speed_up`` times as long after
    their first 5 typings (they settle into the password)."""
    frame = population(n_subjects=n_subjects, n_typings=n_typings, seed=seed)
    later = frame.groupby("Subject").cumcount() >= 5
    frame.loc[later, LATENCIES] *= speed_up
    return frame


@pytest.fixture(scope="module")
def background():
    frame = settling()
    return frame.drop(columns="Subject"), frame["Subject"].to_numpy()


@pytest.fixture(scope="module")
def profile(background):
    return learn_population(*background, n_enrol=5, n_genuine=26)


def test_the_profile_measures_the_populations_drift_in_log_units(profile):
    shift = dict(zip(profile.features, profile.shift))
    for name in LATENCIES:
        assert shift[name] == pytest.approx(np.log(0.8), abs=0.05)
    for name in ("Pressure e", "Size e"):
        assert abs(shift[name]) < 0.05
    assert all(profile.logged) and profile.subjects == 8 and profile.typings == 8 * 31


def test_the_profile_centre_and_spread_are_the_populations(background, profile):
    typings, _ = background
    logs = np.log(typings.to_numpy())
    np.testing.assert_allclose(profile.centre, np.median(logs, axis=0))
    np.testing.assert_allclose(profile.spread, np.abs(logs - np.median(logs, axis=0)).mean(axis=0))
    np.testing.assert_allclose(profile.floor, typings.min().to_numpy() / 2)


def test_features_with_a_non_positive_value_stay_in_raw_units(background):
    typings, subjects = background
    shifted = typings.assign(**{"UD i.e": typings["UD i.e"] - 400.0})  # overlapping keys
    profile = learn_population(shifted, subjects, n_enrol=5)
    logged = dict(zip(profile.features, profile.logged))
    assert logged["UD i.e"] is False and logged["Hold e"] is True


def test_the_profile_needs_two_subjects_with_later_typings(background):
    typings, subjects = background
    with pytest.raises(DataError, match="at least 2 subjects with more than 31 typings"):
        learn_population(typings, subjects, n_enrol=31)


def test_the_profile_round_trips_and_refuses_a_damaged_state(profile):
    state = json.loads(json.dumps(profile.to_dict()))
    assert PopulationProfile.from_dict(state) == profile
    for damage in (
        {"centre": state["centre"][:-1]},
        {"spread": None},
        {"shift": [float("nan")] * len(FEATURES)},
    ):
        with pytest.raises(ModelIntegrityError, match="population profile"):
            PopulationProfile.from_dict({**state, **damage})


def test_drift_moves_the_users_centre_by_the_populations_shift(profile):
    enrol = typist(5, 5)
    plain = KeystrokeVerifier(population=profile).fit(enrol)
    drifted = KeystrokeVerifier(population=profile, drift=True).fit(enrol)
    np.testing.assert_allclose(drifted.centre_ - plain.centre_, profile.shift)
    later = typist(6, 26) * np.array([0.8, 0.8, 0.8, 1, 1, 0.8])  # the user settled
    assert drifted.suspicion(later).mean() < plain.suspicion(later).mean()


def test_the_contrast_subtracts_beta_times_the_population_departure(profile):
    enrol, typings = typist(5, 5), typist(7, 10)
    contrasted = KeystrokeVerifier(population=profile, contrast=0.5).fit(enrol)
    logs, enrolled = np.log(typings.to_numpy()), np.log(enrol.to_numpy())
    centre = np.median(enrolled, axis=0)
    spread = np.maximum(np.abs(enrolled - centre).mean(axis=0), 0.01)
    beta = np.minimum(0.5, np.array(profile.spread) / (2 * spread))
    crowd = np.minimum(np.abs(logs - np.array(profile.centre)) / np.array(profile.spread), 5.0)
    terms = np.minimum(np.abs(logs - centre) / spread - beta * crowd, 5.0)
    np.testing.assert_allclose(contrasted.suspicion(typings), terms.sum(axis=1), rtol=1e-12)


def test_every_term_grows_as_a_typing_moves_away_from_the_user_either_way(profile):
    """Whatever the population says, the lowest score is the user's own centre: no value
    of a feature, however unusual for everybody, scores lower than typing like the user."""
    for seed in range(5):
        enrol = typist(seed, 5, scale=float(np.exp(np.random.default_rng(seed).normal(0, 0.4))))
        verifier = KeystrokeVerifier(population=profile, contrast=0.75, drift=True, clip=8.0).fit(
            enrol
        )
        centre = np.exp(verifier.centre_)
        for factor in (np.exp(np.linspace(0, 8, 400)), np.exp(-np.linspace(0, 8, 400))):
            terms = verifier.unweighted_terms(centre[None, :] * factor[:, None])
            assert (np.diff(terms, axis=0) >= -1e-12).all()


def test_typing_unlike_everyone_cannot_lower_a_feature_below_its_floor(profile):
    """An impostor who holds every key for minutes moves away from the population as far as
    possible: each term still stays at (1 - beta) * clip * weight, far above the user's."""
    enrol = typist(5, 5)
    verifier = KeystrokeVerifier(population=profile, contrast=0.75, clip=5.0).fit(enrol)
    extreme = pd.DataFrame([enrol.median() * 1e4, enrol.median() / 1e4])
    terms = verifier.explain(extreme).values + verifier.typical_
    assert (terms >= 0.25 * 5.0 - 1e-9).all()
    genuine = verifier.suspicion(typist(8, 26))
    assert verifier.suspicion(extreme).min() > genuine.max()


@pytest.mark.parametrize(
    "settings", [{"clip": None, "contrast": 0.5}, {"contrast": 1.5}, {"contrast": -0.1}]
)
def test_a_contrast_needs_a_clip_and_a_share_in_0_1(profile, settings):
    with pytest.raises(DataError, match="contrast"):
        KeystrokeVerifier(population=profile, **settings)


def test_contrast_and_drift_need_a_population():
    with pytest.raises(DataError, match="population"):
        KeystrokeVerifier(contrast=0.5)
    with pytest.raises(DataError, match="population"):
        KeystrokeVerifier(drift=True)


def test_the_profile_must_know_every_enrolled_feature(profile):
    with pytest.raises(DataError, match="no statistics for feature"):
        KeystrokeVerifier(population=profile).fit(typist(5, 5).rename(columns={"Size e": "Size q"}))


def test_a_prior_makes_the_same_verifier_after_a_json_round_trip(background):
    prior = learn_prior(
        *background,
        settings={"contrast": 0.5, "drift": True},
        n_enrol=5,
        n_impostor=5,
        n_genuine=26,
    )
    again = KeystrokePrior.from_dict(json.loads(json.dumps(prior.to_dict(), allow_nan=False)))
    assert again.to_dict() == prior.to_dict()
    enrol, typings = typist(5, 5), pd.concat([typist(6, 20), typist(9, 5, scale=1.4)])
    fitted = prior.verifier().fit(enrol)
    assert np.array_equal(again.verifier().fit(enrol).suspicion(typings), fitted.suspicion(typings))
    state = json.loads(json.dumps(fitted.to_dict()))  # what a template stores
    assert np.array_equal(verifier_from_dict(state).suspicion(typings), fitted.suspicion(typings))
    refitted = verifier_from_dict(state).fit(enrol)  # an adaptive template refits from it
    assert np.array_equal(refitted.suspicion(typings), fitted.suspicion(typings))


def test_a_prior_with_learned_weights_holds_one_per_feature(background):
    prior = learn_prior(*background, settings={"learn_weights": True}, n_enrol=5, n_impostor=5)
    assert set(prior.weights) == set(FEATURES)
    assert np.mean(list(prior.weights.values())) == pytest.approx(1.0)
    unweighted = learn_prior(
        *background, settings={"learn_weights": False}, n_enrol=5, n_impostor=5
    )
    assert unweighted.weights is None


@pytest.mark.parametrize(
    "state",
    [{}, {"format": "another"}, {"format": "trustshield-keystroke-prior/1", "settings": {}}],
)
def test_a_damaged_prior_is_refused(state):
    with pytest.raises(ModelIntegrityError):
        KeystrokePrior.from_dict(state)


def test_an_unknown_setting_is_refused(background):
    with pytest.raises(DataError, match="unknown keystroke verifier setting"):
        learn_prior(*background, settings={"shrink": 3}, n_enrol=5, n_impostor=5)


def test_a_template_from_before_the_population_contrast_still_scores_the_same():
    """State as KeystrokeVerifier wrote it before priors existed (no population arrays)."""
    enrol, typings = typist(1, 25), typist(2, 10)
    verifier = KeystrokeVerifier().fit(enrol)
    old = verifier.to_dict()
    old["params"] = {k: old["params"][k] for k in ("weights", "log", "clip", "min_scale")}
    for name in ("pop_centre_", "pop_spread_"):
        del old["state"][name]
    assert np.array_equal(verifier_from_dict(old).suspicion(typings), verifier.suspicion(typings))


# ---------------------------------------------------------------- the ceiling over a range

SEPARABLE = {name: cls for name, cls in BASELINES.items() if cls.separable}


def ours(profile):
    return {
        "ours (defaults)": KeystrokeVerifier,
        "ours (prior: contrast, drift, clip 5)": lambda: KeystrokeVerifier(
            population=profile, contrast=0.5, drift=True
        ),
        "ours (prior: contrast 0.75, clip 3)": lambda: KeystrokeVerifier(
            population=profile, contrast=0.75, clip=3.0
        ),
    }


def in_range(enrol: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Typings whose every feature lies between the enrolment minimum and maximum: random
    points, the two corners, and each feature's own grid of 50 values."""
    rng = np.random.default_rng(seed)
    low, high = enrol.min().to_numpy(), enrol.max().to_numpy()
    random = low + rng.uniform(0, 1, (n, len(low))) * (high - low)
    grid = low + np.linspace(0, 1, 50)[:, None] * (high - low)
    return pd.DataFrame(np.vstack([random, low, high, grid]), columns=enrol.columns)


def test_no_typing_within_the_range_scores_above_the_ceiling_and_the_ceiling_is_reached(profile):
    makers = {**SEPARABLE, **ours(profile)}
    for name, make in makers.items():
        for n in (3, 5, 10):
            enrol = typist(n, n)
            verifier = make().fit(enrol)
            ceiling = verifier.range_ceiling(enrol)
            scores = verifier.suspicion(in_range(enrol, 2000, seed=n))
            assert scores.max() <= ceiling + 1e-9, name
            # the ceiling is a maximum, not a bound: per feature, the best candidate
            low, high = enrol.min().to_numpy(), enrol.max().to_numpy()
            candidates = verifier._range_points(low, high)
            best = candidates[verifier._terms(candidates).argmax(axis=0), np.arange(len(low))]
            peak = pd.DataFrame([best], columns=enrol.columns)
            assert ((best >= low - 1e-9) & (best <= high + 1e-9)).all()
            assert verifier.suspicion(peak)[0] == pytest.approx(ceiling, rel=1e-9), name


def test_verifiers_whose_terms_share_features_give_no_ceiling():
    enrol = typist(1, 10)
    for name, cls in BASELINES.items():
        if not cls.separable:
            assert cls().fit(enrol).range_ceiling(enrol) is None, name
