"""trustshield enrol | verify | forget end to end with a stand-in verifier: decisions,
fail-safe step-up, encrypted templates, complete deletion, and no sample value in any
output, log or audit event."""

import json
import logging

import numpy as np
import pandas as pd
import pytest

from standin_verifier import ScaledManhattan, typings
from trustshield.cli import main
from trustshield.decide.enrolment import calibration_scores
from trustshield.detectors import verifiers
from trustshield.store import AlertStore
from trustshield.store.templates import KEY_ENV, new_template_key


@pytest.fixture
def env(tmp_path, monkeypatch, caplog):
    """A stand-in kind, a key, and files: enrolment, background, genuine and impostor
    attempts (each with a Subject column the reader ignores)."""
    monkeypatch.setitem(
        verifiers.VERIFIERS, "standin", verifiers.VerifierKind("standin", ScaledManhattan)
    )
    monkeypatch.setitem(
        verifiers.VERIFIERS,
        "ghost",
        verifiers.VerifierKind("ghost", "trustshield.detectors.ghost:Ghost"),
    )
    monkeypatch.setenv(KEY_ENV, new_template_key())
    caplog.set_level(logging.DEBUG)
    frames = {
        "enrol": typings(0, 40),
        "background": typings(1, 60, centre=180.0),
        "genuine": typings(2, 5),
        "impostor": typings(3, 5, centre=260.0),
    }
    paths = {}
    for name, frame in frames.items():
        paths[name] = tmp_path / f"{name}.csv"
        frame.assign(Subject=7).to_csv(paths[name], index=False)
    store, templates = tmp_path / "ts.duckdb", tmp_path / "templates"
    where = ["--store", str(store), "--templates", str(templates)]
    return {
        "paths": paths,
        "frames": frames,
        "store": store,
        "templates": templates,
        "where": where,
        "tmp": tmp_path,
    }


def enrol(env, *extra, user="alice", kind="standin"):
    return main(
        [
            "enrol",
            "--user",
            user,
            "--kind",
            kind,
            "--data",
            str(env["paths"]["enrol"]),
            "--background",
            str(env["paths"]["background"]),
            *env["where"],
            *extra,
        ]
    )


def verify(env, capsys, data, *extra, user="alice"):
    capsys.readouterr()
    code = main(["verify", "--user", user, "--data", str(data), "--json", *env["where"], *extra])
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def leaked(env, text: str) -> list[str]:
    """Sample values (as written in the CSVs, or to two decimals) that appear in text."""
    values = pd.concat(env["frames"].values()).to_numpy().ravel()
    forms = {f"{v:.2f}" for v in values} | {repr(float(v)) for v in values}
    return sorted(f for f in forms if f in text)


def audit_events(env):
    with AlertStore(env["store"], actor="reader") as store:
        assert store.audit.verify() is None
        return store.audit.events()


def test_enrol_then_verify_accepts_the_user_and_denies_an_impostor(env, capsys, caplog):
    assert enrol(env) == 0
    assert "enrolled user alice (standin) from 40 samples of 4 features" in capsys.readouterr().out
    assert (env["templates"] / "alice.template").is_file()
    genuine = verify(env, capsys, env["paths"]["genuine"])
    assert genuine["action"] == "accept", genuine["reason"]
    impostor = verify(env, capsys, env["paths"]["impostor"])
    assert impostor["action"] == "deny", impostor["reason"]
    assert (
        len(impostor["scores"]) == 5 and impostor["deny_threshold"] > impostor["accept_threshold"]
    )
    assert impostor["departing_features"][0]["feature"].startswith("Hold k")
    assert [e["action"] for e in audit_events(env)] == [
        "template.enrol",
        "auth.verify",
        "auth.verify",
    ]


def test_no_sample_value_reaches_output_logs_or_the_audit_log(env, capsys, caplog):
    assert enrol(env) == 0
    printed = capsys.readouterr()
    text = printed.out + printed.err
    for data in ("genuine", "impostor"):
        capsys.readouterr()
        assert (
            main(["verify", "--user", "alice", "--data", str(env["paths"][data]), *env["where"]])
            == 0
        )
        printed = capsys.readouterr()
        text += printed.out + printed.err
        assert (
            main(
                [
                    "verify",
                    "--user",
                    "alice",
                    "--data",
                    str(env["paths"][data]),
                    "--json",
                    *env["where"],
                ]
            )
            == 0
        )
        text += capsys.readouterr().out
    text += caplog.text + json.dumps([e["details"] for e in audit_events(env)])
    template = (env["templates"] / "alice.template").read_text()
    assert "most unlike the enrolment: Hold k" in text
    assert leaked(env, text) == [] and leaked(env, template) == []


def test_verify_text_output_names_the_decision_and_reason(env, capsys):
    assert enrol(env) == 0
    capsys.readouterr()
    assert (
        main(["verify", "--user", "alice", "--data", str(env["paths"]["impostor"]), *env["where"]])
        == 0
    )
    assert capsys.readouterr().out.startswith("user alice: deny (5 of 5 samples agree")


def broken_row(env):
    frame = env["frames"]["impostor"].astype(object)
    frame.iloc[2, 1] = "n/a"
    path = env["tmp"] / "broken.csv"
    frame.to_csv(path, index=False)
    return path


def other_columns(env):
    path = env["tmp"] / "other.csv"
    env["frames"]["impostor"].rename(columns={"Hold k0": "Size q"}).to_csv(path, index=False)
    return path


def garbage(env):
    path = env["tmp"] / "garbage.csv"
    path.write_bytes(b"\x00\x01\x02")
    return path


def no_key(env, monkeypatch):
    monkeypatch.delenv(KEY_ENV)


def wrong_key(env, monkeypatch):
    monkeypatch.setenv(KEY_ENV, new_template_key())


def tampered(env, monkeypatch):
    path = env["templates"] / "alice.template"
    envelope = json.loads(path.read_text())
    envelope["nonce"] = envelope["nonce"][::-1]
    path.write_text(json.dumps(envelope))


def kind_gone(env, monkeypatch):
    monkeypatch.setitem(
        verifiers.VERIFIERS,
        "standin",
        verifiers.VerifierKind("standin", "trustshield.detectors.gone:Gone"),
    )


FAILSAFE = [  # (case, how to break things, which samples file)
    ("key missing", no_key, None),
    ("another key", wrong_key, None),
    ("template altered", tampered, None),
    ("verifier module unavailable", kind_gone, None),
    ("samples file missing", None, lambda env: env["tmp"] / "absent.csv"),
    ("a malformed sample", None, broken_row),
    ("samples lack enrolled features", None, other_columns),
    ("samples file unreadable", None, garbage),
]


@pytest.mark.parametrize(("case", "breaking", "data"), FAILSAFE, ids=[c[0] for c in FAILSAFE])
def test_verify_fails_safe_to_step_up_with_exit_status_0(
    env, capsys, monkeypatch, case, breaking, data
):
    assert enrol(env) == 0
    assert verify(env, capsys, env["paths"]["impostor"])["action"] == "deny"
    if breaking:
        breaking(env, monkeypatch)
    decision = verify(env, capsys, data(env) if data else env["paths"]["impostor"])
    assert decision["action"] == "step_up", case
    assert decision["reason"] and leaked(env, decision["reason"]) == []


def test_verify_of_an_unknown_user_steps_up(env, capsys):
    decision = verify(env, capsys, env["paths"]["impostor"], user="nobody")
    assert decision["action"] == "step_up" and "no enrolled template" in decision["reason"]


def test_forget_deletes_the_template_and_is_audited(env, capsys):
    assert enrol(env) == 0
    assert enrol(env, user="bob") == 0
    ciphertext = json.loads((env["templates"] / "alice.template").read_text())["ciphertext"]
    capsys.readouterr()
    assert main(["forget", "--user", "alice", *env["where"]]) == 0
    assert "deleted every stored template of user alice" in capsys.readouterr().out
    assert sorted(p.name for p in env["templates"].iterdir()) == ["bob.template"]
    for file in env["tmp"].rglob("*"):
        if file.is_file():
            assert ciphertext[:40].encode() not in file.read_bytes()
    assert verify(env, capsys, env["paths"]["genuine"])["action"] == "step_up"
    actions = [(e["action"], e["subject"]) for e in audit_events(env)]
    assert ("template.delete", "alice") in actions
    assert main(["forget", "--user", "alice", *env["where"]]) == 1
    assert "no enrolled template" in capsys.readouterr().err


def test_enrol_refuses_malformed_samples_without_quoting_them(env, capsys):
    frame = env["frames"]["enrol"].astype(object)
    frame.iloc[4, 0] = "oops"
    bad = env["tmp"] / "bad-enrol.csv"
    frame.to_csv(bad, index=False)
    assert (
        main(["enrol", "--user", "alice", "--kind", "standin", "--data", str(bad), *env["where"]])
        == 1
    )
    err = capsys.readouterr().err
    assert "row(s) [5]" in err and "oops" not in err and leaked(env, err) == []
    assert not (env["templates"] / "alice.template").exists()


def test_enrol_without_a_key_says_how_to_make_one_before_any_work(env, capsys, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    assert enrol(env) == 1
    assert "TRUSTSHIELD_TEMPLATE_KEY is not set" in capsys.readouterr().err
    assert not env["templates"].exists()


def test_enrol_with_an_unavailable_verifier_kind_says_so(env, capsys):
    assert enrol(env, kind="ghost") == 1
    assert "no verifier class for verifier kind 'ghost' is available" in capsys.readouterr().err


def test_enrol_with_an_accept_position_places_the_threshold_between_the_medians(env, capsys):
    assert (
        main(
            [
                "enrol",
                "--user",
                "alice",
                "--kind",
                "standin",
                "--data",
                str(env["paths"]["enrol"]),
                "--accept-position",
                "0.3",
                *env["where"],
            ]
        )
        == 1
    )
    assert "--background" in capsys.readouterr().err
    assert enrol(env, "--accept-position", "0.3") == 0
    [event] = [e for e in audit_events(env) if e["action"] == "template.enrol"]
    assert event["details"]["accept_position"] == 0.3
    again = calibration_scores(
        ScaledManhattan, env["frames"]["enrol"], background=env["frames"]["background"]
    )
    centre, far = np.median(again.genuine), np.median(again.impostor)
    genuine = verify(env, capsys, env["paths"]["genuine"])
    assert genuine["accept_threshold"] == pytest.approx(centre + 0.3 * (far - centre))
    assert genuine["action"] == "accept"


def test_an_adaptive_template_takes_in_accepted_attempts_only(env, capsys):
    from trustshield.store.templates import TemplateStore

    assert enrol(env, "--adaptive") == 0
    templates = TemplateStore(env["templates"])
    _, before = templates.load("alice")
    assert len(before["window"]) == before["samples"] == 40
    assert verify(env, capsys, env["paths"]["impostor"])["action"] == "deny"
    _, after_deny = templates.load("alice")
    assert after_deny["window"] == before["window"]  # a denied attempt never enters
    assert verify(env, capsys, env["paths"]["genuine"])["action"] == "accept"
    _, adapted = templates.load("alice")
    added = env["frames"]["genuine"].to_numpy(dtype=float).tolist()
    assert adapted["window"][-len(added) :] == added and len(adapted["window"]) == 40
    assert adapted["window"][: 40 - len(added)] == before["window"][len(added) :]
    assert adapted["policy"] == before["policy"]  # thresholds stay those of enrolment
    actions = [e["action"] for e in audit_events(env)]
    assert actions == ["template.enrol", "auth.verify", "auth.verify", "template.enrol"]
    assert audit_events(env)[-1]["details"]["adapted"] is True


def test_a_plain_template_keeps_no_samples(env, capsys):
    from trustshield.store.templates import TemplateStore

    assert enrol(env) == 0
    assert verify(env, capsys, env["paths"]["genuine"])["action"] == "accept"
    _, state = TemplateStore(env["templates"]).load("alice")
    assert "window" not in state
