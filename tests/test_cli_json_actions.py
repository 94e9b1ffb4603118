"""``--json`` prints one JSON document on standard output on the commands that change
something: enrol, keys generate|rotate|revoke|trust|export-public, models
register|sign|bundle, tokens create and datasets fetch. A token's secret is printed once, in
that document, and appears in no log record or audit event."""

from __future__ import annotations

import hashlib
import json
import logging

import duckdb
import pytest

from standin_verifier import ScaledManhattan, typings
from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.cli import main
from trustshield.detectors import verifiers
from trustshield.ingest import known_files, locate
from trustshield.model_folder import save_model
from trustshield.store import AlertStore
from trustshield.store.templates import KEY_ENV, new_template_key
from trustshield.store.tokens import TokenTable


def printed(capsys, argv: list[str]):
    """``main(argv)``'s status and its whole standard output read as one JSON document."""
    capsys.readouterr()
    status = main(argv)
    return status, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("json-actions") / "model"
    save_model(train_small(small_flows(0), SMALL_SPEC, SMALL_SPEC_TEXT), folder)
    return folder


def test_keys_actions_print_the_key_they_changed(tmp_path, capsys):
    keys, store = tmp_path / "keys", tmp_path / "s.duckdb"
    where = ["--keys", str(keys), "--store", str(store), "--json"]
    status, first = printed(capsys, ["keys", "generate", *where])
    assert status == 0 and first["action"] == "generate" and first["status"] == "active"
    assert first["keyring"] == str(keys) and first["retired"] is None
    assert (keys / f"{first['key_id']}.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY")
    status, second = printed(capsys, ["keys", "rotate", *where])
    assert status == 0 and second["retired"] == first["key_id"] != second["key_id"]
    status, exported = printed(capsys, ["keys", "export-public", "--keys", str(keys), "--json"])
    assert status == 0 and exported["key_id"] == second["key_id"]
    assert exported["pem"] == (keys / f"{second['key_id']}.pub.pem").read_text()
    status, revoked = printed(capsys, ["keys", "revoke", first["key_id"], *where])
    assert status == 0 and revoked["status"] == "revoked" and revoked["key_id"] == first["key_id"]
    other = tmp_path / "other"
    assert main(["keys", "generate", "--keys", str(other)]) == 0
    pem = next(other.glob("*.pub.pem"))
    status, trusted = printed(capsys, ["keys", "trust", str(pem), *where])
    assert status == 0 and trusted["status"] == "trusted" and pem.name.startswith(trusted["key_id"])
    listed = {
        k["key_id"]: k["status"] for k in printed(capsys, ["keys", "list", *where[:2], "--json"])[1]
    }
    assert listed == {
        first["key_id"]: "revoked",
        second["key_id"]: "active",
        trusted["key_id"]: "trusted",
    }
    for change in (first, second, revoked, trusted):
        assert "PRIVATE" not in json.dumps(change)


def test_models_register_sign_bundle_print_what_they_did(model, tmp_path, capsys):
    keys, store, bundle = tmp_path / "keys", tmp_path / "s.duckdb", tmp_path / "m.bundle.json"
    manifest = json.loads((model / "manifest.json").read_text())
    status, registered = printed(
        capsys, ["models", "register", "--model", str(model), "--store", str(store), "--json"]
    )
    assert status == 0 and registered["model_id"] == manifest["model_id"]
    assert registered["added"] is True and registered["target"] == str(store)
    _, again = printed(
        capsys, ["models", "register", "--model", str(model), "--store", str(store), "--json"]
    )
    assert again["added"] is False
    assert main(["keys", "generate", "--keys", str(keys)]) == 0
    argv = ["--model", str(model), "--keys", str(keys), "--json"]
    status, signed = printed(capsys, ["models", "sign", *argv])
    signature = json.loads((model / "signature.json").read_text())
    assert status == 0 and signed["key_id"] == signature["key_id"]
    assert signed["target"] == str(model / "signature.json")
    status, bundled = printed(capsys, ["models", "bundle", *argv, "--out", str(bundle)])
    assert (
        status == 0 and bundled["target"] == str(bundle) and bundled["key_id"] == signed["key_id"]
    )
    assert json.loads(bundle.read_text())["manifest"]["model_id"] == bundled["model_id"]


def test_tokens_create_prints_the_secret_once_in_json_and_logs_it_nowhere(tmp_path, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    store = tmp_path / "s.duckdb"
    capsys.readouterr()
    argv = ["tokens", "create", "--name", "sensor-1", "--role", "analyst", "--role", "viewer"]
    assert main([*argv, "--store", str(store), "--json"]) == 0
    shown = capsys.readouterr()
    created = json.loads(shown.out)  # the whole of standard output is the one document
    token = created["token"]
    assert created["name"] == "sensor-1" and created["roles"] == ["analyst", "viewer"]
    assert shown.out.count(token) == 1 and token not in shown.err
    assert token not in caplog.text
    with AlertStore(str(store)) as s:
        assert TokenTable(s).check_secret(token) == created["token_id"]
    with duckdb.connect(str(store), read_only=True) as db:
        events = json.dumps(db.execute("SELECT * FROM audit_events").fetchall(), default=str)
    assert created["token_id"] in events and token not in events


def test_enrol_json_gives_counts_and_thresholds_never_samples(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(
        verifiers.VERIFIERS, "standin", verifiers.VerifierKind("standin", ScaledManhattan)
    )
    monkeypatch.setenv(KEY_ENV, new_template_key())
    samples = typings(0, 40)
    data = tmp_path / "enrol.csv"
    samples.to_csv(data, index=False)
    argv = ["enrol", "--user", "alice", "--kind", "standin", "--data", str(data)]
    argv += ["--templates", str(tmp_path / "t"), "--store", str(tmp_path / "s.duckdb"), "--json"]
    status, done = printed(capsys, argv)
    assert status == 0 and done["user"] == "alice" and done["kind"] == "standin"
    assert done["samples"] == len(samples) and done["features"] == samples.shape[1]
    assert done["accept_threshold"] <= done["deny_threshold"]
    assert done["templates"] == str(tmp_path / "t") and isinstance(done["notes"], list)
    text = json.dumps(done)
    assert not any(f"{v:.3f}" in text for v in samples.to_numpy().ravel()[:50])


def test_datasets_fetch_json_lists_the_verified_files(tmp_path, capsys):
    files = known_files()["nsl-kdd"]
    dest = tmp_path / "nsl-kdd"
    dest.mkdir()
    for f in files:  # already there with the right sha256: nothing is downloaded
        (dest / f.name).symlink_to(locate("nsl-kdd", f))
    status, done = printed(
        capsys, ["datasets", "fetch", "nsl-kdd", "--dest", str(tmp_path), "--json"]
    )
    assert status == 0 and done["dataset"] == "nsl-kdd"
    assert [v["file"] for v in done["verified"]] == [f.name for f in files]
    for v in done["verified"]:
        digest = hashlib.sha256((dest / v["file"]).read_bytes()).hexdigest()
        assert v["path"] == str(dest / v["file"]) and v["sha256"] == digest
