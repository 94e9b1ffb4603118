"""Dual-use gating: red-team commands run only with a red-team API token of the store (a
roles file and $TRUSTSHIELD_OPERATOR are no credential), with a declared purpose, against
registered models; every run and refusal is audited in the token's name; examples stay in
the store unless exported, and every export is audited."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml
from argon2 import PasswordHasher

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows
from trustshield.assess.robustness import evasion
from trustshield.cli import main
from trustshield.config import OPERATOR_ENV
from trustshield.errors import DataError
from trustshield.model_folder import load_model, save_model
from trustshield.pipeline.train import TrainConfig, train
from trustshield.store import AlertStore
from trustshield.store import tokens as token_table
from trustshield.store.tokens import TokenTable

SPEC, SPEC_TEXT = SMALL_SPEC, SMALL_SPEC_TEXT
FEATURES = ["n", "r", "p"]
PURPOSE = "quarterly robustness review of our own detector"
TOKEN_ENV = "TRUSTSHIELD_TOKEN"  # the documented variable (trustshield.config.TOKEN_ENV)


def flows(seed: int) -> pd.DataFrame:
    return small_flows(seed, n_normal=160, n_flood=60)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small saved model and its training / test files (Parquet)."""
    folder = tmp_path_factory.mktemp("redteam")
    train_frame, test_frame = flows(0), flows(1)
    model = train(
        train_frame,
        SPEC,
        SPEC_TEXT,
        config=TrainConfig(n_prototypes=8, n_estimators=5, n_threads=1, capacity="fixed"),
        provenance={"data": {"name": "synthetic"}},
    )
    save_model(model, folder / "model")
    train_frame.to_parquet(folder / "train.parquet", index=False)
    test_frame.to_parquet(folder / "test.parquet", index=False)
    return {
        "model": folder / "model",
        "train": folder / "train.parquet",
        "test": folder / "test.parquet",
        "model_id": model.model_id,
    }


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Work in an empty folder as operator alice (claimed through $TRUSTSHIELD_OPERATOR);
    ``grant(roles)`` has an administrator create a token holding ``roles`` in the store and
    puts it in $TRUSTSHIELD_TOKEN; it returns the token's info."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv(OPERATOR_ENV, "alice")
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.setattr(
        token_table, "_HASHER", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )  # quick set-up
    store = work / "ts.duckdb"

    def grant(roles, name="alice (red team)"):
        with AlertStore(store, actor="admin") as s:
            token, info = TokenTable(s).create(name, roles)
        monkeypatch.setenv(TOKEN_ENV, token)
        return info

    return {"work": work, "store": store, "grant": grant}


@pytest.fixture
def red_team(env, tiny):
    """alice holds a red-team token and the tiny model is registered in the store."""
    env["holder"] = env["grant"](["red-team"])
    assert (
        main(["models", "register", "--model", str(tiny["model"]), "--store", str(env["store"])])
        == 0
    )
    return env


@pytest.fixture
def no_attack(monkeypatch):
    """Fail the test if any attack runs."""

    def refuse(*args, **kwargs):
        raise AssertionError("the attack ran although the gate should have refused")

    monkeypatch.setattr(evasion, "evade", refuse)
    monkeypatch.setattr(evasion, "select_attack_records", refuse)


def evade_args(tiny, env, *extra, purpose=PURPOSE, data=None):
    args = [
        "redteam",
        "evade",
        "--model",
        str(tiny["model"]),
        "--store",
        str(env["store"]),
        "--data",
        str(data or tiny["test"]),
        "--attack",
        "score",
        "--records",
        "6",
        "--max-factor",
        "50",
    ]
    return args + (["--purpose", purpose] if purpose is not None else []) + list(extra)


def table(store_path, sql):
    with AlertStore(store_path, actor="reader") as store:
        return store.db.execute(sql).fetchall()


def events(store_path, action=None):
    with AlertStore(store_path, actor="reader") as store:
        return store.audit.events(action)


def files_in(folder):
    return sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if not p.name.startswith("ts.duckdb")
    )


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("trustshield: error: ") and "\n" not in err
    return err


# ---------------------------------------------------------------- refusals


def registered(env, tiny):
    assert (
        main(["models", "register", "--model", str(tiny["model"]), "--store", str(env["store"])])
        == 0
    )


def test_a_roles_file_and_the_operator_variable_alone_no_longer_pass(
    env, tiny, no_attack, capsys, monkeypatch
):
    """What any user can do: write a roles file granting themselves red-team and name
    themselves in $TRUSTSHIELD_OPERATOR. Before, that passed the gate."""
    roles = env["work"].parent / "trustshield.yaml"
    roles.write_text(yaml.safe_dump({"roles": {"alice": ["red-team"]}}))
    roles.chmod(0o600)
    monkeypatch.setenv("TRUSTSHIELD_CONFIG", str(roles))
    registered(env, tiny)
    missing = env["work"] / "never-read.csv"
    assert main(evade_args(tiny, env, data=missing)) == 1
    err = one_line_error(capsys)
    assert f"need a red-team API token in ${TOKEN_ENV}" in err and "never-read" not in err
    assert "trustshield tokens create --name NAME --role red-team" in err
    [refusal] = events(env["store"], "redteam.refused")
    assert refusal["actor"] == "alice" and refusal["subject"] == str(tiny["model"])
    assert refusal["details"]["reason"] in err and refusal["details"]["command"] == "redteam evade"
    assert refusal["details"]["operator"] == "alice" and refusal["details"]["login"]
    assert refusal["details"]["purpose"] == PURPOSE and refusal["details"]["token_id"] is None
    assert table(env["store"], "SELECT count(*) FROM redteam_runs") == [(0,)]


@pytest.mark.parametrize("roles", [["analyst", "viewer"], ["admin"]])
def test_refuses_a_token_without_the_red_team_role(env, tiny, no_attack, capsys, roles):
    holder = env["grant"](roles)
    registered(env, tiny)
    assert main(evade_args(tiny, env)) == 1
    err = one_line_error(capsys)
    assert (
        f"token {holder.token_id} ({holder.name}) holds {sorted(roles)}, not the 'red-team' role"
        in err
    )
    [refusal] = events(env["store"], "redteam.refused")
    assert refusal["details"]["token_id"] == holder.token_id
    assert table(env["store"], "SELECT count(*) FROM redteam_runs") == [(0,)]


@pytest.mark.parametrize("spoil", ["wrong secret", "malformed", "revoked"])
def test_refuses_a_wrong_malformed_or_revoked_token(
    env, tiny, no_attack, capsys, monkeypatch, spoil
):
    holder = env["grant"](["red-team"])
    registered(env, tiny)
    token = os.environ[TOKEN_ENV]
    if spoil == "wrong secret":
        monkeypatch.setenv(
            TOKEN_ENV, token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        )
    elif spoil == "malformed":
        monkeypatch.setenv(TOKEN_ENV, "red-team please")
    else:
        with AlertStore(env["store"], actor="admin") as store:
            TokenTable(store).revoke(holder.token_id)
    assert main(evade_args(tiny, env)) == 1
    assert f"${TOKEN_ENV}: the token is malformed, unknown, revoked or wrong" in one_line_error(
        capsys
    )
    [refusal] = events(env["store"], "redteam.refused")
    assert refusal["details"]["token_id"] == (None if spoil == "malformed" else holder.token_id)


def test_refuses_a_token_written_into_the_store_without_tokens_create(
    env, tiny, no_attack, capsys, monkeypatch
):
    """Someone who can write the store's token table plants a red-team token row of their
    own; its creation is not in the audit chain, so it is not honoured."""
    registered(env, tiny)
    secret = "s" * 43
    with AlertStore(env["store"], actor="mallory") as store:
        TokenTable(store)  # the table exists
        store.db.execute(
            "INSERT INTO api_tokens (token_id, name, roles, secret_hash) VALUES (?, ?, ?, ?)",
            ["abcdefabcdef", "planted", '["red-team"]', PasswordHasher().hash(secret)],
        )
    monkeypatch.setenv(TOKEN_ENV, f"tsk_abcdefabcdef_{secret}")
    assert main(evade_args(tiny, env)) == 1
    assert "token abcdefabcdef (planted) has no token.create event" in one_line_error(capsys)
    assert len(events(env["store"], "redteam.refused")) == 1


def test_the_token_secret_never_reaches_the_audit_log(
    red_team, tiny, no_attack, capsys, monkeypatch
):
    token = os.environ[TOKEN_ENV]
    assert main(evade_args(tiny, red_team, purpose="")) == 1  # refused: audited with the token id
    capsys.readouterr()
    monkeypatch.setenv(TOKEN_ENV, token[:-1] + ("x" if token[-1] != "x" else "y"))
    assert main(evade_args(tiny, red_team)) == 1
    secret = token[len("tsk_0123456789ab_") :]  # the secret may itself hold "_"
    logged = json.dumps(events(red_team["store"]))
    assert secret not in logged and secret[:-1] not in logged
    assert [e["details"]["token_id"] for e in events(red_team["store"], "redteam.refused")] == [
        red_team["holder"].token_id
    ] * 2


@pytest.mark.parametrize("purpose", [None, "", "   \t  "])
def test_refuses_without_a_purpose(red_team, tiny, no_attack, capsys, purpose):
    assert main(evade_args(tiny, red_team, purpose=purpose)) == 1
    err = one_line_error(capsys)
    assert "needs a declared purpose: pass --purpose TEXT" in err
    [refusal] = events(red_team["store"], "redteam.refused")
    assert refusal["details"]["purpose"] == purpose
    assert table(red_team["store"], "SELECT count(*) FROM redteam_runs") == [(0,)]


def test_refuses_a_model_not_in_the_registry(env, tiny, no_attack, capsys):
    env["grant"](["red-team"])
    assert main(evade_args(tiny, env)) == 1
    err = one_line_error(capsys)
    assert f"model {tiny['model_id']}" in err and "is not in the local registry" in err
    assert f"trustshield models register --model {tiny['model']}" in err
    [refusal] = events(env["store"], "redteam.refused")
    assert "not in the local registry" in refusal["details"]["reason"]


def test_refuses_a_folder_that_claims_a_registered_id_with_other_files(
    red_team, tiny, no_attack, tmp_path, capsys
):
    impostor = tmp_path / "impostor"
    impostor.mkdir()
    for name in ("model.json", "spec.yaml", "drift_reference.json", "manifest.json"):
        (impostor / name).write_bytes((tiny["model"] / name).read_bytes())
    state = json.loads((impostor / "model.json").read_text())
    state["training"]["note"] = "altered after registration"
    body = json.dumps(state, sort_keys=True).encode()
    (impostor / "model.json").write_bytes(body)
    manifest = json.loads((impostor / "manifest.json").read_text())
    manifest["files"]["model.json"] = hashlib.sha256(body).hexdigest()  # id kept, files changed
    (impostor / "manifest.json").write_text(json.dumps(manifest))
    args = evade_args(tiny, red_team)
    args[args.index("--model") + 1] = str(impostor)
    assert main(args) == 1
    assert "its files differ from the registered model" in one_line_error(capsys)


# ---------------------------------------------------------------- runs


@pytest.fixture
def evade_run(red_team, tiny, capsys):
    """One real score-attack run on 6 flagged attack records; returns its run id."""
    assert main(evade_args(tiny, red_team)) == 0
    out = capsys.readouterr().out
    [(run_id,)] = table(red_team["store"], "SELECT run_id FROM redteam_runs")
    assert f"red-team run {run_id}" in out and "nothing was exported" in out
    return run_id


def test_a_run_is_audited_with_who_when_purpose_model_parameters_and_summary(
    red_team, tiny, evade_run
):
    [event] = events(red_team["store"], "redteam.run")
    details = event["details"]
    holder = red_team["holder"]
    assert event["actor"] == f"token:{holder.token_id}({holder.name})" == holder.actor
    assert event["subject"] == evade_run and event["at"] and event["details"]["login"]
    assert details["purpose"] == PURPOSE and details["model_id"] == tiny["model_id"]
    assert details["kind"] == "evade" and details["status"] == "complete"
    parameters = details["parameters"]
    assert parameters["attack"] == "score" and parameters["records"] == 6
    assert parameters["budget"] == {"max_features": 3, "max_factor": 50.0}
    assert parameters["data"]["sha256"] == hashlib.sha256(tiny["test"].read_bytes()).hexdigest()
    summary = details["summary"]["attacks"]["score"]
    assert summary["records"] == 6 and 0 <= summary["success_rate"] <= 1
    [(operator, purpose, stored_summary, status)] = table(
        red_team["store"], "SELECT operator, purpose, summary, status FROM redteam_runs"
    )
    assert (operator, purpose, status) == (holder.actor, PURPOSE, "complete")
    assert json.loads(stored_summary) == details["summary"]
    with AlertStore(red_team["store"], actor="reader") as store:
        assert store.audit.verify() is None
        assert [e["action"] for e in store.audit.events()] == [
            "token.create",
            "model.register",
            "redteam.run",
        ]


def test_real_examples_are_stored_with_the_run(red_team, tiny, evade_run):
    with AlertStore(red_team["store"], actor="reader") as store:
        examples = store.redteam.examples(evade_run)
        summary = store.redteam.run(evade_run)["summary"]["attacks"]["score"]
    assert len(examples) == 6
    test = flows(1).set_axis(np.arange(1, len(flows(1)) + 1))  # Parquet rows are lines 1..n
    assert (test.loc[examples["row"], "label"] != "normal").all()
    original = np.array(examples["original"].tolist())
    adversarial = np.array(examples["adversarial"].tolist())
    evaded = examples["evaded"].to_numpy()
    np.testing.assert_array_equal((original != adversarial).sum(axis=1), examples["changed"])
    assert (examples["changed"][~evaded] == 0).all() and (examples["changed"][evaded] >= 1).all()
    assert evaded.mean() == pytest.approx(summary["success_rate"])


class HalveRate:
    """A stand-in attack with a known result: every other record gets its rate halved."""

    def __call__(self, model, records, *, attack, budget, seed=0, progress=None):
        originals = records[list(model.spec.feature_names)].reset_index(drop=True)
        evaded = np.arange(len(originals)) % 2 == 0
        adversarial = originals.copy()
        adversarial.loc[evaded, "r"] = adversarial.loc[evaded, "r"] / 2
        self.records = records
        return SimpleNamespace(
            attack=attack,
            originals=originals,
            adversarial=adversarial,
            evaded=evaded,
            changed=evaded.astype(int),
            summary=lambda: {"records": len(evaded), "success_rate": 0.5},
        )


def test_examples_are_the_encoded_vectors_of_the_attack_output(red_team, tiny, monkeypatch):
    attack = HalveRate()
    monkeypatch.setattr(evasion, "evade", attack)
    assert main(evade_args(tiny, red_team)) == 0
    model = load_model(tiny["model"])
    [(run_id,)] = table(red_team["store"], "SELECT run_id FROM redteam_runs")
    with AlertStore(red_team["store"], actor="reader") as store:
        examples = store.redteam.examples(run_id)
    np.testing.assert_array_equal(examples["row"], attack.records.index)  # file lines
    original = np.array(examples["original"].tolist())
    adversarial = np.array(examples["adversarial"].tolist())
    expected = model.encoder.transform(attack.records).to_numpy()  # model feature order
    np.testing.assert_array_equal(original, expected)
    halved = expected.copy()
    halved[::2, FEATURES.index("r")] /= 2
    np.testing.assert_array_equal(adversarial, halved)
    assert examples["evaded"].tolist() == [True, False] * 3
    assert examples["changed"].tolist() == [1, 0] * 3


def test_nothing_is_written_outside_the_store_without_export(red_team, tiny, evade_run):
    assert files_in(red_team["work"]) == []
    assert events(red_team["store"], "redteam.export") == []


def test_export_writes_the_examples_and_is_audited(red_team, tiny, capsys):
    out = red_team["work"] / "examples.csv"
    assert main(evade_args(tiny, red_team, "--export", str(out))) == 0
    printed = capsys.readouterr().out
    assert "exported 12 rows" in printed and "nothing was exported" not in printed
    assert files_in(red_team["work"]) == ["examples.csv"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    frame = pd.read_csv(out)
    assert list(frame.columns) == [
        "run_id",
        "version",
        "row",
        "detail",
        "evaded",
        "changed",
        *FEATURES,
    ]
    assert len(frame) == 2 * 6 and set(frame["version"]) == {"original", "adversarial"}
    [run, export] = events(red_team["store"])[2:]
    assert (run["action"], export["action"]) == ("redteam.run", "redteam.export")
    assert export["subject"] == run["subject"] == frame["run_id"][0]
    assert export["actor"] == red_team["holder"].actor and export["details"]["purpose"] == PURPOSE
    assert export["details"]["path"] == str(out.resolve()) and export["details"]["rows"] == 12
    assert export["details"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


def test_json_prints_the_run_alone_and_says_the_export_on_stderr(red_team, tiny, capsys):
    out = red_team["work"] / "examples.csv"
    assert main(evade_args(tiny, red_team, "--export", str(out), "--json")) == 0
    shown = capsys.readouterr()
    printed = json.loads(shown.out)  # nothing but the JSON document on standard output
    [(run_id, summary)] = table(red_team["store"], "SELECT run_id, summary FROM redteam_runs")
    assert printed["run_id"] == run_id and printed["kind"] == "evade"
    assert printed["model_id"] == tiny["model_id"] and printed["examples"] == 6  # records
    assert printed["summary"] == json.loads(summary) and printed["exported"] == str(out)
    assert "exported 12 rows" in shown.err


def test_export_of_a_stored_run_is_gated_and_audited(
    red_team, tiny, evade_run, capsys, monkeypatch
):
    out = red_team["work"] / "later.parquet"
    export = ["redteam", "export", evade_run, "--out", str(out), "--store", str(red_team["store"])]
    assert main(export) == 1
    assert "needs a declared purpose" in one_line_error(capsys) and not out.exists()
    red_team["grant"](["analyst"], name="alice (analyst)")
    assert main(export + ["--purpose", "share with the vendor"]) == 1
    assert (
        "holds ['analyst'], not the 'red-team' role" in one_line_error(capsys) and not out.exists()
    )
    refusals = events(red_team["store"], "redteam.refused")
    assert [r["subject"] for r in refusals] == [evade_run, evade_run]
    red_team["grant"](["red-team"])
    assert main(export + ["--purpose", "share with the vendor"]) == 0
    frame = pd.read_parquet(out)
    assert len(frame) == 12 and FEATURES == list(frame.columns[-3:])
    [event] = events(red_team["store"], "redteam.export")
    assert (
        event["details"]["purpose"] == "share with the vendor"
        and event["details"]["format"] == "parquet"
    )
    assert files_in(red_team["work"]) == ["later.parquet"]


@pytest.mark.parametrize(
    "name, expected", [("out.json", "expected a name ending in"), ("taken.csv", "exists already")]
)
def test_a_bad_export_path_stops_before_any_work(red_team, tiny, no_attack, capsys, name, expected):
    (red_team["work"] / "taken.csv").write_text("keep me\n")
    assert main(evade_args(tiny, red_team, "--export", str(red_team["work"] / name))) == 1
    assert expected in one_line_error(capsys)
    assert (red_team["work"] / "taken.csv").read_text() == "keep me\n"
    assert table(red_team["store"], "SELECT count(*) FROM redteam_runs") == [(0,)]


def test_a_failed_run_is_stored_and_audited(red_team, tiny, monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise DataError("the attack found nothing to work with")

    monkeypatch.setattr(evasion, "select_attack_records", broken)
    assert main(evade_args(tiny, red_team)) == 1
    assert "nothing to work with" in one_line_error(capsys)
    [event] = events(red_team["store"], "redteam.run")
    assert event["details"]["status"] == "failed" and event["details"]["examples"] == 0
    assert "nothing to work with" in event["details"]["summary"]["error"]
    assert table(red_team["store"], "SELECT status FROM redteam_runs") == [("failed",)]


def test_noise_keeps_the_records_whose_decision_changed(red_team, tiny, capsys):
    assert (
        main(
            [
                "redteam",
                "noise",
                "--model",
                str(tiny["model"]),
                "--store",
                str(red_team["store"]),
                "--data",
                str(tiny["test"]),
                "--level",
                "0.8",
                "--purpose",
                PURPOSE,
            ]
        )
        == 0
    )
    [event] = events(red_team["store"], "redteam.run")
    summary = event["details"]["summary"]
    [(run_id,)] = table(red_team["store"], "SELECT run_id FROM redteam_runs WHERE kind = 'noise'")
    with AlertStore(red_team["store"], actor="reader") as store:
        examples = store.redteam.examples(run_id)
    assert (
        summary["changed"] > 0
        and len(examples) == summary["changed"] == event["details"]["examples"]
    )
    before, after = zip(*(d.split(" → ") for d in examples["detail"]))
    assert all(b != a for b, a in zip(before, after))
    assert (
        examples["evaded"] == [b == "alert" and a != "alert" for b, a in zip(before, after)]
    ).all()
    assert (examples["changed"] >= 1).all()
    assert files_in(red_team["work"]) == []


def test_poison_keeps_the_flipped_training_records(red_team, tiny, capsys):
    assert (
        main(
            [
                "redteam",
                "poison",
                "--model",
                str(tiny["model"]),
                "--store",
                str(red_team["store"]),
                "--data",
                str(tiny["train"]),
                "--test",
                str(tiny["test"]),
                "--rate",
                "0.1",
                "--target",
                "DoS",
                "--purpose",
                PURPOSE,
            ]
        )
        == 0
    )
    [event] = events(red_team["store"], "redteam.run")
    study = event["details"]["summary"]
    [run] = study["runs"]
    assert (run["rate"], run["target"], run["flipped"]) == (0.1, "DoS", 10)  # 10 % of 100 attacks
    assert event["details"]["parameters"]["train_config"]["n_estimators"] == 5  # the model's own
    [(run_id,)] = table(red_team["store"], "SELECT run_id FROM redteam_runs")
    with AlertStore(red_team["store"], actor="reader") as store:
        examples = store.redteam.examples(run_id)
    assert len(examples) == 10 and set(examples["detail"]) == {"label flood → normal"}
    train_frame = flows(0).set_axis(np.arange(1, len(flows(0)) + 1))
    assert (train_frame.loc[examples["row"], "label"] == "flood").all()
    assert not examples["evaded"].any() and (examples["changed"] == 0).all()


def test_poison_with_an_unknown_category_fails_before_training(red_team, tiny, capsys):
    assert (
        main(
            [
                "redteam",
                "poison",
                "--model",
                str(tiny["model"]),
                "--store",
                str(red_team["store"]),
                "--data",
                str(tiny["train"]),
                "--test",
                str(tiny["test"]),
                "--target",
                "U2R",
                "--purpose",
                PURPOSE,
            ]
        )
        == 1
    )
    assert "no attack records of category 'U2R'" in one_line_error(capsys)
    assert table(red_team["store"], "SELECT status FROM redteam_runs") == [("failed",)]


# ---------------------------------------------------------------- registry and detect


def test_models_register_is_audited_once_and_listed(env, tiny, capsys):
    store = str(env["store"])
    assert main(["models", "list", "--store", store]) == 0
    assert "no models registered" in capsys.readouterr().out and not env["store"].exists()
    assert main(["models", "register", "--model", str(tiny["model"]), "--store", store]) == 0
    assert main(["models", "register", "--model", str(tiny["model"]), "--store", store]) == 0
    assert "already registered" in capsys.readouterr().out
    assert [e["subject"] for e in events(env["store"], "model.register")] == [tiny["model_id"]]
    assert main(["models", "list", "--store", store, "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert listed["model_id"] == tiny["model_id"] and listed["spec"] == "tiny-flows"


def test_detect_appends_an_audit_event_for_its_run(env, tiny, capsys):
    assert (
        main(
            [
                "detect",
                "--model",
                str(tiny["model"]),
                "--data",
                str(tiny["test"]),
                "--store",
                str(env["store"]),
            ]
        )
        == 0
    )
    actions = [(e["action"], e["actor"]) for e in events(env["store"])]
    assert actions == [("model.register", "alice"), ("detect.run", "alice")]
    [run] = events(env["store"], "detect.run")
    assert run["details"]["status"] == "complete" and run["details"]["rows_read"] == 260
