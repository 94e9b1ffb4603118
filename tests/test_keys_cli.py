"""`trustshield keys …` and `models sign | bundle` end to end through the CLI, audited."""

from __future__ import annotations

import json
import stat

import pytest

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.cli import main
from trustshield.model_folder import load_model, save_model
from trustshield.store import AlertStore
from trustshield.store.bundles import install_bundle, verify_bundle
from trustshield.store.signing import KEYS_ENV, Keyring


@pytest.fixture(scope="module")
def model():
    return train_small(synthetic_flows(), FLOWS_SPEC, FLOWS_SPEC_TEXT)


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(KEYS_ENV, str(tmp_path / "keys"))
    monkeypatch.setenv("TRUSTSHIELD_OPERATOR", "alice")
    return tmp_path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "PRIVATE KEY" not in out + err
    return code, out, err


def listed(capsys, *extra) -> list[dict]:
    code, out, _ = run(capsys, "keys", "list", "--json", *extra)
    assert code == 0
    return json.loads(out)


def test_generate_sign_bundle_rotate_revoke_round_trip(model, env, capsys):
    store, folder, out = env / "audit.duckdb", env / "model", env / "bundle.json"
    save_model(model, folder)
    assert run(capsys, "keys", "generate", "--store", str(store))[0] == 0
    code, _, err = run(capsys, "keys", "generate")
    assert code == 1 and "keys rotate" in err and len(err.strip().splitlines()) == 1
    first = listed(capsys)[0]["key_id"]
    assert stat.S_IMODE((env / "keys" / f"{first}.key.pem").stat().st_mode) == 0o600

    assert run(capsys, "models", "sign", "--model", str(folder), "--store", str(store))[0] == 0
    assert run(capsys, "models", "bundle", "--model", str(folder), "--out", str(out))[0] == 0
    verified = verify_bundle(json.loads(out.read_text()), Keyring())
    assert verified.key["key_id"] == first
    assert load_model(install_bundle(verified, env / "models")).model_id == model.model_id

    assert run(capsys, "keys", "rotate", "--store", str(store))[0] == 0
    assert [(k["key_id"] == first, k["status"]) for k in listed(capsys)] == [
        (True, "retired"),
        (False, "active"),
    ]
    assert verify_bundle(json.loads(out.read_text()), Keyring()).key["status"] == "retired"
    assert run(capsys, "keys", "revoke", first, "--store", str(store))[0] == 0
    code, _, err = run(
        capsys, "models", "bundle", "--model", str(folder), "--out", str(env / "b2.json")
    )
    assert code == 1 and "revoked" in err and not (env / "b2.json").exists()

    with AlertStore(store) as s:
        events = s.audit.events()
    assert [e["action"] for e in events] == [
        "keys.generate",
        "model.sign",
        "keys.rotate",
        "keys.revoke",
    ]
    assert events[1]["subject"] == model.model_id and events[1]["details"]["key_id"] == first
    assert all(e["actor"] == "alice" for e in events)
    assert "PRIVATE" not in json.dumps([e["details"] for e in events])


def test_a_service_trusts_an_exported_public_key(model, env, capsys):
    folder, out, pem = env / "model", env / "bundle.json", env / "signer.pub.pem"
    save_model(model, folder)
    assert run(capsys, "keys", "generate")[0] == 0
    assert run(capsys, "models", "sign", "--model", str(folder))[0] == 0
    assert run(capsys, "models", "bundle", "--model", str(folder), "--out", str(out))[0] == 0
    assert run(capsys, "keys", "export-public", "--out", str(pem))[0] == 0
    code, printed, _ = run(capsys, "keys", "export-public")
    assert code == 0 and printed == pem.read_text() and "BEGIN PUBLIC KEY" in printed

    service = env / "service-keys"
    code, _, err = run(
        capsys,
        "models",
        "bundle",
        "--model",
        str(folder),
        "--out",
        str(out),
        "--keys",
        str(service),
    )
    assert code == 1 and "keys trust" in err
    assert run(capsys, "keys", "trust", str(pem), "--keys", str(service))[0] == 0
    assert [k["status"] for k in listed(capsys, "--keys", str(service))] == ["trusted"]
    assert verify_bundle(json.loads(out.read_text()), Keyring(service)).model_id == model.model_id
    code, _, err = run(capsys, "models", "sign", "--model", str(folder), "--keys", str(service))
    assert code == 1 and "keys generate" in err


def test_list_without_keys_and_rich_table(env, capsys):
    code, out, _ = run(capsys, "keys")
    assert code == 0 and "keys generate" in out
    assert listed(capsys) == []
    run(capsys, "keys", "generate")
    key_id = listed(capsys)[0]["key_id"]
    code, out, _ = run(capsys, "keys", "list")
    assert code == 0 and key_id in out and "active" in out


def test_signing_a_folder_with_an_extra_file_fails_with_one_line(model, env, capsys):
    folder = env / "model"
    save_model(model, folder)
    (folder / "weights.pkl").write_bytes(b"\x80\x04.")
    run(capsys, "keys", "generate")
    code, _, err = run(capsys, "models", "sign", "--model", str(folder))
    assert code == 1 and "weights.pkl" in err and "pickle" in err
    assert not (folder / "signature.json").exists()
