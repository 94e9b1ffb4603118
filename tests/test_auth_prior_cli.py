"""trustshield auth prior | enrol --kind keystroke: one verifier from benchmark to command.

The prior is learned on a background table and stored signed next to the templates;
``enrol`` fits exactly the verifier the benchmark measures, so the command and the
harness give identical scores. A missing, altered or untrusted prior is refused."""

import json

import numpy as np
import pandas as pd
import pytest

from keystroke_typings import population
from trustshield.assess.keystroke import halves, run_protocol
from trustshield.assess.keystroke_selection import SelectedFactory
from trustshield.cli import main
from trustshield.store import AlertStore
from trustshield.store.signing import KEYS_ENV, Keyring
from trustshield.store.templates import KEY_ENV, new_template_key


@pytest.fixture(scope="module")
def frame():
    return population(n_subjects=12, n_typings=31, seed=5)


@pytest.fixture
def env(tmp_path, monkeypatch, frame):
    monkeypatch.setenv(KEY_ENV, new_template_key())
    monkeypatch.setenv(KEYS_ENV, str(tmp_path / "keys"))
    Keyring(tmp_path / "keys").generate()
    a, b = halves(list(dict.fromkeys(frame.Subject)))
    frame[frame.Subject.isin(b)].to_csv(tmp_path / "background.csv", index=False)
    return {
        "tmp": tmp_path,
        "tested": a,
        "store": tmp_path / "ts.duckdb",
        "templates": tmp_path / "templates",
        "where": [
            "--store",
            str(tmp_path / "ts.duckdb"),
            "--templates",
            str(tmp_path / "templates"),
        ],
    }


def learn(env, *extra):
    return main(
        [
            "auth",
            "prior",
            "--data",
            str(env["tmp"] / "background.csv"),
            "--subject",
            "Subject",
            "--enrol",
            "5",
            "--genuine-typings",
            "26",
            *env["where"],
            *extra,
        ]
    )


def write(env, frame: pd.DataFrame, name: str):
    path = env["tmp"] / name
    frame.to_csv(path, index=False)
    return path


def enrol(env, data, *extra, user="ann"):
    return main(
        ["enrol", "--user", user, "--kind", "keystroke", "--data", str(data), *env["where"], *extra]
    )


def scores(env, capsys, data, user="ann"):
    capsys.readouterr()
    assert main(["verify", "--user", user, "--data", str(data), "--json", *env["where"]]) == 0
    return json.loads(capsys.readouterr().out)["scores"]


def test_enrol_fits_the_verifier_the_benchmark_measures_score_for_score(env, capsys, frame):
    assert learn(env) == 0
    assert "learned the keystroke prior from 6 subjects" in capsys.readouterr().out
    read_back = pd.read_csv(env["tmp"] / "background.csv")  # what the command read
    assert read_back.equals(frame[frame.Subject.isin(read_back.Subject)].reset_index(drop=True))
    run = run_protocol(frame, SelectedFactory(), subject_column="Subject", n_enrol=5, n_genuine=26)
    results = {r.subject: r for r in run.results}
    for subject in env["tested"][:2]:
        typings = frame[frame.Subject == subject].drop(columns="Subject")
        assert enrol(env, write(env, typings.iloc[:5], "enrol.csv"), user=subject) == 0
        genuine = scores(env, capsys, write(env, typings.iloc[5:31], "genuine.csv"), subject)
        assert np.array_equal(np.array(genuine), results[subject].genuine)
        impostors = pd.concat(
            [
                frame[frame.Subject == o].drop(columns="Subject").iloc[:5]
                for o in results[subject].impostor_subjects
            ]
        )
        impostor = scores(env, capsys, write(env, impostors, "impostor.csv"), subject)
        assert np.array_equal(np.array(impostor), results[subject].impostor)


def test_the_prior_is_signed_audited_and_names_what_it_learned_on(env, capsys):
    assert learn(env) == 0
    envelope = json.loads((env["templates"] / "keystroke.prior.json").read_text())
    assert envelope["format"] == "trustshield-signed-prior/1" and envelope["kind"] == "keystroke"
    prior = envelope["prior"]
    assert prior["protocol"] == {"n_enrol": 5, "n_genuine": 26, "n_impostor": 5}
    assert prior["source"]["subjects"] == 6 and prior["source"]["typings"] == 6 * 31
    assert len(prior["selection"]["candidates"]) == 32
    assert envelope["signature"]["key_id"] == Keyring(env["tmp"] / "keys").active()["key_id"]
    with AlertStore(env["store"], actor="reader") as store:
        assert store.audit.verify() is None
        [event] = [e for e in store.audit.events() if e["action"] == "prior.learn"]
    assert event["details"]["key_id"] == envelope["signature"]["key_id"]
    assert event["details"]["settings"] == prior["settings"]


def test_enrol_without_a_prior_is_refused_and_says_how_to_learn_one(env, capsys, frame):
    data = write(
        env, frame[frame.Subject == env["tested"][0]].drop(columns="Subject").iloc[:5], "enrol.csv"
    )
    assert enrol(env, data) == 1
    assert "trustshield auth prior --data TABLE" in capsys.readouterr().err
    assert not (env["templates"] / "ann.template").exists()
    assert enrol(env, data, "--no-prior") == 0
    assert "without a population prior" in capsys.readouterr().out


def altered(env):
    path = env["templates"] / "keystroke.prior.json"
    envelope = json.loads(path.read_text())
    envelope["prior"]["settings"]["clip"] = 1000.0  # a clip that lets one feature outvote all
    path.write_text(json.dumps(envelope))


def other_kind(env):
    path = env["templates"] / "keystroke.prior.json"
    path.write_text(path.read_text().replace('"kind": "keystroke"', '"kind": "mouse"'))


def revoked(env):
    ring = Keyring(env["tmp"] / "keys")
    ring.revoke(ring.active()["key_id"])


def untrusted(env, monkeypatch):
    Keyring(env["tmp"] / "other-keys").generate()
    monkeypatch.setenv(KEYS_ENV, str(env["tmp"] / "other-keys"))


@pytest.mark.parametrize(
    "breaking",
    [altered, other_kind, revoked, untrusted],
    ids=["altered", "another kind", "revoked key", "unknown key"],
)
def test_enrol_refuses_a_prior_that_does_not_verify(env, capsys, monkeypatch, frame, breaking):
    assert learn(env) == 0
    data = write(
        env, frame[frame.Subject == env["tested"][0]].drop(columns="Subject").iloc[:5], "enrol.csv"
    )
    if breaking is untrusted:
        breaking(env, monkeypatch)
    else:
        breaking(env)
    capsys.readouterr()
    assert enrol(env, data) == 1
    error = capsys.readouterr().err
    assert "is not a signed keystroke prior" in error and "trustshield auth prior" in error
    assert not (env["templates"] / "ann.template").exists()
    with AlertStore(env["store"], actor="reader") as store:
        assert store.audit.verify() is None
        [event] = [e for e in store.audit.events() if e["action"] == "prior.refused"]
    assert event["subject"] == "ann" and event["details"]["reason"] in error


def test_enrol_refuses_samples_without_the_priors_columns(env, capsys, frame):
    assert learn(env) == 0
    typings = frame[frame.Subject == env["tested"][0]].drop(columns="Subject").iloc[:5]
    assert enrol(env, write(env, typings.drop(columns="Size e"), "enrol.csv")) == 1
    assert "lack feature(s) ['Size e'] that the prior was learned on" in capsys.readouterr().err


def test_learning_a_prior_needs_a_signing_key_before_any_work(env, capsys, monkeypatch):
    monkeypatch.setenv(KEYS_ENV, str(env["tmp"] / "empty-keyring"))
    assert learn(env) == 1
    assert "no active signing key" in capsys.readouterr().err
    assert not (env["templates"] / "keystroke.prior.json").exists()


def test_a_background_too_short_for_the_protocol_is_refused_by_name(env, capsys):
    assert (
        main(
            [
                "auth",
                "prior",
                "--data",
                str(env["tmp"] / "background.csv"),
                "--subject",
                "Subject",
                "--enrol",
                "31",
                *env["where"],
            ]
        )
        == 1
    )
    error = capsys.readouterr().err
    assert "with at least 32 typings each (--enrol 31, then at least 1 genuine" in error
    assert "subject s2 has 31 typings" in error
