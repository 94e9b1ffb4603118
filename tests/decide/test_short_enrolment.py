"""Enrolment that knows its limits: with fewer samples than separate accept and deny
thresholds need, a genuine attempt that lies within the enrolment samples' range is never
denied (a step-up band stays open), or enrolment refuses and says how many more samples
it needs. Issue 17: enrolled on 5 typings without --background, accept equalled deny for
every user and genuine users were denied outright."""

import json

import numpy as np
import pandas as pd
import pytest

from keystroke_typings import population, typist
from standin_verifier import ScaledManhattan
from trustshield.cli import main
from trustshield.decide.authentication import AuthPolicy, samples_for_separate_thresholds
from trustshield.decide.enrolment import calibration_scores
from trustshield.detectors import verifiers
from trustshield.detectors.keystroke import KeystrokeVerifier, learn_prior
from trustshield.errors import DataError
from trustshield.records import DENY
from trustshield.store.templates import KEY_ENV, new_template_key

SIZES = [3, 5, 10]


def within_range(enrol: pd.DataFrame, verifier, n_attempts: int, seed: int) -> list[pd.DataFrame]:
    """Genuine attempts of 3 or 5 typings whose every feature lies between the enrolment
    minimum and maximum: the enrolment typings themselves, the most unusual typing the
    range holds for this verifier (each feature at the end where its term is largest),
    repeated, and random typings drawn uniformly inside the range."""
    rng = np.random.default_rng(seed)
    low, high = enrol.min().to_numpy(), enrol.max().to_numpy()
    ends = np.vstack([low, high])
    frame = pd.DataFrame(ends, columns=enrol.columns)
    worst = ends[np.asarray(verifier.explain(frame).values).argmax(axis=0), np.arange(len(low))]
    attempts = [
        enrol.iloc[:3],
        pd.DataFrame([worst] * 3, columns=enrol.columns),
        pd.DataFrame([worst] * 5, columns=enrol.columns),
    ]
    for _ in range(n_attempts):
        size = int(rng.choice([3, 5]))
        attempts.append(
            pd.DataFrame(
                low + rng.uniform(0, 1, (size, len(low))) * (high - low), columns=enrol.columns
            )
        )
    return attempts


@pytest.fixture(scope="module")
def prior():
    frame = population(n_subjects=8, n_typings=31, seed=11)
    return learn_prior(
        frame.drop(columns="Subject"),
        frame["Subject"].to_numpy(),
        settings={"contrast": 0.5, "drift": True},
        n_enrol=5,
        n_impostor=5,
    )


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("which", ["prior", "no prior"])
def test_a_genuine_attempt_within_the_enrolment_range_is_never_denied(n, which, prior):
    make = prior.verifier if which == "prior" else KeystrokeVerifier
    enrol = typist(100 + n, n)
    calibration = calibration_scores(make, enrol)
    policy = AuthPolicy().fit(genuine=calibration.genuine, ceiling=calibration.ceiling)
    assert policy.deny_threshold_ > policy.accept_threshold_  # a step-up band is open
    assert policy.short_enrolment_ == {
        "samples": n,
        "needed": 21,
        "ceiling": pytest.approx(calibration.ceiling),
    }
    for attempt in within_range(enrol, calibration.verifier, 300, seed=n):
        decision = policy.decide(calibration.verifier.suspicion(attempt))
        assert decision.action != DENY, decision.reason


def test_from_enough_samples_on_the_thresholds_are_the_users_quantiles():
    assert samples_for_separate_thresholds(0.95, 0.99) == 21
    genuine = np.linspace(0.0, 1.0, 21)
    policy = AuthPolicy().fit(genuine=genuine, ceiling=50.0)
    assert policy.deny_threshold_ == 1.0 and policy.short_enrolment_ is None
    assert AuthPolicy().fit(genuine=genuine).deny_threshold_ == 1.0  # no ceiling needed


def separate(n: int, accept: float, deny: float) -> bool:
    x = np.arange(float(n))
    return np.quantile(x, accept, method="higher") < np.quantile(x, deny, method="higher")


@pytest.mark.parametrize(("accept", "deny"), [(0.95, 0.99), (0.9, 0.99), (0.8, 0.95), (0.5, 0.6)])
def test_separate_thresholds_start_where_the_quantiles_become_different_scores(accept, deny):
    need = samples_for_separate_thresholds(accept, deny)
    assert all(separate(n, accept, deny) for n in range(need, 300))
    assert not separate(need - 1, accept, deny)


def test_equal_quantiles_are_never_separate():
    assert samples_for_separate_thresholds(0.99, 0.99) is None


def test_without_a_ceiling_a_short_enrolment_is_refused_naming_how_many_more():
    with pytest.raises(
        DataError, match="5 enrolment sample[(]s[)] are fewer than the 21 .*enrol 16 more"
    ):
        AuthPolicy().fit(genuine=np.arange(5.0))
    with pytest.raises(DataError, match="enrol more"):
        AuthPolicy(accept_quantile=0.99).fit(genuine=np.arange(50.0))


def test_enrolment_needs_enough_samples_for_out_of_fold_scores():
    with pytest.raises(DataError, match="at least 3 samples .* got 2: enrol 1 more"):
        calibration_scores(KeystrokeVerifier, typist(1, 2))


# ---------------------------------------------------------------- the commands


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """A keystroke kind without a prior (the verifier's fixed defaults) and a stand-in kind
    whose verifier cannot bound its scores, a template key, and paths."""
    monkeypatch.setitem(
        verifiers.VERIFIERS,
        "keystroke-plain",
        verifiers.VerifierKind("keystroke-plain", KeystrokeVerifier),
    )
    monkeypatch.setitem(
        verifiers.VERIFIERS, "standin", verifiers.VerifierKind("standin", ScaledManhattan)
    )
    monkeypatch.setenv(KEY_ENV, new_template_key())
    return {
        "tmp": tmp_path,
        "where": [
            "--store",
            str(tmp_path / "ts.duckdb"),
            "--templates",
            str(tmp_path / "templates"),
        ],
    }


def enrol_file(cli, frame, name="enrol.csv"):
    path = cli["tmp"] / name
    frame.to_csv(path, index=False)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("n", SIZES)
def test_enrol_on_few_samples_never_denies_a_genuine_attempt_within_their_range(cli, capsys, n):
    """The attack of the issue, through the commands: enrol on a handful of typings without
    --background, then verify genuine attempts that lie within the enrolment typings."""
    enrol = typist(200 + n, n)
    path = enrol_file(cli, enrol)
    assert (
        main(
            [
                "enrol",
                "--user",
                "ann",
                "--kind",
                "keystroke-plain",
                "--data",
                str(path),
                *cli["where"],
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert f"note: {n} samples are fewer than the 21 needed" in printed
    verifier = KeystrokeVerifier().fit(enrol)
    for k, attempt in enumerate(within_range(enrol, verifier, 40, seed=n)):
        attempt_path = enrol_file(cli, attempt, f"attempt{k}.csv")
        capsys.readouterr()
        assert (
            main(["verify", "--user", "ann", "--data", str(attempt_path), "--json", *cli["where"]])
            == 0
        )
        decision = json.loads(capsys.readouterr().out)
        assert decision["action"] != "deny", decision["reason"]
        assert decision["deny_threshold"] > decision["accept_threshold"]


def test_enrol_refuses_a_short_enrolment_a_verifier_cannot_bound(cli, capsys):
    path = enrol_file(cli, typist(1, 5).rename(columns=lambda c: f"Hold k{c[-1]}"))
    assert (
        main(["enrol", "--user", "ann", "--kind", "standin", "--data", str(path), *cli["where"]])
        == 1
    )
    error = capsys.readouterr().err
    assert "5 enrolment sample(s) are fewer than the 21 needed" in error
    assert "enrol 16 more sample(s)" in error
    assert not (cli["tmp"] / "templates" / "ann.template").exists()
