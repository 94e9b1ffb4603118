"""Signed models: keyring rules, sign/verify round trip, and every refusal of a bad bundle."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import stat

import numpy as np
import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec

from synthetic import FLOWS_SPEC, FLOWS_SPEC_TEXT, synthetic_flows, train_small
from trustshield.errors import ConfigError, ModelIntegrityError
from trustshield.model_folder import load_model, save_model
from trustshield.store import signing
from trustshield.plain_json import canonical
from trustshield.store.bundles import (
    bundle_from_folder,
    install_bundle,
    sign_model_folder,
    verify_bundle,
    verify_model_folder,
)
from trustshield.store.signing import Keyring


@pytest.fixture(scope="module")
def frame():
    return synthetic_flows()


@pytest.fixture(scope="module")
def model(frame):
    return train_small(frame, FLOWS_SPEC, FLOWS_SPEC_TEXT)


@pytest.fixture
def keyring(tmp_path):
    ring = Keyring(tmp_path / "keys")
    ring.generate()
    return ring


@pytest.fixture
def signed(model, keyring, tmp_path):
    folder = tmp_path / "model"
    save_model(model, folder)
    sign_model_folder(folder, keyring, signer="alice")
    return folder


@pytest.fixture
def bundle(signed, keyring):
    return json.loads(json.dumps(bundle_from_folder(signed, keyring)))  # as sent over HTTP


def refusal(bundle, keyring) -> str:
    with pytest.raises(ModelIntegrityError) as info:
        verify_bundle(bundle, keyring)
    return str(info.value)


def resign_manifest_hashes(bundle):
    bundle["manifest"]["files"] = {
        name: hashlib.sha256(text.encode()).hexdigest() for name, text in bundle["files"].items()
    }


# --- round trip -----------------------------------------------------------------------------


def test_signature_is_ed25519_over_the_canonical_manifest_by_the_active_key(signed, keyring):
    manifest = verify_model_folder(signed, keyring)
    assert manifest == json.loads((signed / "manifest.json").read_text())
    record = json.loads((signed / "signature.json").read_text())
    assert record["key_id"] == keyring.active()["key_id"]
    assert record["algorithm"] == "ed25519" and record["signer"] == "alice"
    public = ser.load_pem_public_key(keyring.public_pem().encode())
    public.verify(base64.b64decode(record["signature"]), canonical(manifest).encode())  # no raise
    raw = public.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)
    assert record["key_id"] == hashlib.sha256(raw).hexdigest()[:16]


def test_bundle_installs_a_model_that_loads_and_scores_as_the_original(
    bundle, keyring, model, frame, tmp_path
):
    verified = verify_bundle(bundle, keyring)
    folder = install_bundle(verified, tmp_path / "models")
    assert folder == tmp_path / "models" / verified.model_id
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [verified.model_id]
    loaded = load_model(folder)
    X = model.encoder.transform(frame)
    before = model.detector.suspicion(X)
    assert np.ptp(before) > 0
    np.testing.assert_array_equal(
        loaded.detector.suspicion(loaded.encoder.transform(frame)), before
    )
    assert verify_model_folder(folder, keyring) == bundle["manifest"]


def test_retired_key_still_verifies_and_new_signatures_use_the_new_key(signed, keyring, bundle):
    old = keyring.active()["key_id"]
    new, retired = keyring.rotate()
    assert retired["key_id"] == old and new["key_id"] != old
    assert verify_bundle(bundle, keyring).key["status"] == "retired"
    _, record = sign_model_folder(signed, keyring)
    assert record["key_id"] == new["key_id"]
    assert verify_model_folder(signed, keyring)["model_id"] == bundle["manifest"]["model_id"]


def test_an_unverified_bundle_is_verified_by_the_receiver(signed, keyring):
    sent = bundle_from_folder(signed)  # no keyring: the sender does not check
    (signed / "signature.json").unlink()
    assert verify_bundle(sent, keyring).model_id == sent["manifest"]["model_id"]
    with pytest.raises(ModelIntegrityError, match="not signed"):
        bundle_from_folder(signed)


# --- refusals, one per check ------------------------------------------------------------------


def test_unsigned_folder_is_refused_saying_how_to_sign(signed, keyring):
    (signed / "signature.json").unlink()
    with pytest.raises(ModelIntegrityError) as info:
        verify_model_folder(signed, keyring)
    assert "not signed" in str(info.value) and "trustshield models sign" in str(info.value)


@pytest.mark.parametrize(
    "path, field",
    [
        (("format",), "format"),
        (("manifest", "model_id"), "model_id"),
        (("manifest", "files"), "files"),
        (("signature", "key_id"), "key_id"),
        (("signature", "signature"), "signature"),
        (("files", "spec.yaml"), "spec.yaml"),
    ],
)
def test_missing_field_is_refused_naming_it(bundle, keyring, path, field):
    parent = bundle
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    message = refusal(bundle, keyring)
    assert message.startswith("shape check failed") and field in message


def test_model_id_that_is_not_16_hex_digits_is_refused_before_anything_is_written(bundle, keyring):
    bundle["manifest"]["model_id"] = "../../etc"
    assert "model_id" in refusal(bundle, keyring)


def test_tampered_manifest_is_refused(bundle, keyring):
    bundle["manifest"]["spec"] = "another-spec"
    message = refusal(bundle, keyring)
    assert message.startswith("signature check failed") and "altered" in message


def test_tampered_model_with_rehashed_manifest_but_no_new_signature_is_refused(bundle, keyring):
    bundle["files"]["model.json"] = bundle["files"]["model.json"].replace("0.", "1.", 1)
    resign_manifest_hashes(bundle)
    assert refusal(bundle, keyring).startswith("signature check failed")


def test_tampered_model_without_rehashing_fails_the_sha256_check(bundle, keyring):
    bundle["files"]["spec.yaml"] += "\n# edited\n"
    message = refusal(bundle, keyring)
    assert message.startswith("sha256 check failed") and "spec.yaml" in message


def test_unknown_key_is_refused_saying_how_to_trust_it(bundle, keyring, tmp_path):
    stranger = Keyring(tmp_path / "stranger")
    stranger.generate()
    message = refusal(bundle, stranger)
    assert keyring.active()["key_id"] in message and "trustshield keys trust" in message


def test_revoked_key_verifies_nothing_and_loses_its_private_key(bundle, keyring):
    key_id = keyring.active()["key_id"]
    keyring.revoke(key_id)
    assert "revoked" in refusal(bundle, keyring)
    assert not (keyring.path / f"{key_id}.key.pem").exists()
    assert (
        keyring.trust(keyring.public_pem(key_id).encode())["status"] == "revoked"
    )  # stays revoked


@pytest.mark.parametrize(
    "name, text",
    [
        ("notes.txt", "hello"),
        ("model.pkl", "x"),
        ("extra.joblib", "x"),
        ("weights.bin", "\x80\x04K\x01."),
    ],
)
def test_extra_or_pickle_like_file_in_a_bundle_is_refused(bundle, keyring, name, text):
    bundle["files"][name] = text
    bundle["manifest"]["files"][name] = hashlib.sha256(text.encode()).hexdigest()
    message = refusal(bundle, keyring)
    assert message.startswith("file check failed") and name in message
    looks_like_pickle = name.endswith((".pkl", ".joblib")) or text.startswith("\x80")
    assert ("pickle" in message) == looks_like_pickle


def test_pickle_bytes_in_a_model_folder_are_refused_before_the_signature(signed, keyring):
    (signed / "model.json").write_bytes(b"\x80\x04\x95" + b"\x00" * 20)
    (signed / "signature.json").write_text(
        (signed / "signature.json").read_text().replace('"ed25519"', '"rsa"')
    )
    with pytest.raises(
        ModelIntegrityError, match="file check failed: 'model.json' looks like a pickle"
    ):
        verify_model_folder(signed, keyring)


def test_extra_file_in_a_folder_is_refused_and_never_signed(signed, keyring):
    (signed / "notes.txt").write_text("analyst notes")
    for action in (verify_model_folder, sign_model_folder):
        with pytest.raises(ModelIntegrityError, match="file check failed: 'notes.txt'"):
            action(signed, keyring)


@pytest.mark.parametrize(
    "value, fragment", [("not base64!", "base64"), (base64.b64encode(b"short").decode(), "5 bytes")]
)
def test_signature_that_is_not_64_bytes_of_base64_is_refused(bundle, keyring, value, fragment):
    bundle["signature"]["signature"] = value
    message = refusal(bundle, keyring)
    assert message.startswith("signature check failed") and fragment in message


def test_wrong_algorithm_is_refused(bundle, keyring):
    bundle["signature"]["algorithm"] = "rsa-pss"
    assert "'rsa-pss' is not supported" in refusal(bundle, keyring)


# --- keyring ------------------------------------------------------------------------------------


def test_generate_refuses_a_second_active_key_and_rotate_keeps_exactly_one(keyring):
    with pytest.raises(ConfigError, match="keys rotate"):
        keyring.generate()
    keyring.rotate()
    keyring.rotate()
    statuses = [e["status"] for e in keyring.entries()]
    assert statuses == ["retired", "retired", "active"]


def test_key_files_modes_and_keyring_contents(keyring):
    key_id = keyring.active()["key_id"]

    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)

    assert mode(keyring.path / f"{key_id}.key.pem") == 0o600
    assert mode(keyring.path) == 0o700
    assert b"BEGIN PRIVATE KEY" in (keyring.path / f"{key_id}.key.pem").read_bytes()
    listed = json.loads((keyring.path / "keyring.json").read_text())
    assert "PRIVATE" not in json.dumps(listed) and listed["keys"][0]["key_id"] == key_id


def test_passphrase_encrypts_the_private_key_and_is_needed_to_sign(tmp_path, monkeypatch):
    monkeypatch.setenv(signing.PASSPHRASE_ENV, "correct horse")
    ring = Keyring(tmp_path / "keys")
    key_id = ring.generate()["key_id"]
    assert b"ENCRYPTED PRIVATE KEY" in (ring.path / f"{key_id}.key.pem").read_bytes()
    assert signing.sign_manifest({"a": 1}, ring)["key_id"] == key_id
    monkeypatch.delenv(signing.PASSPHRASE_ENV)
    with pytest.raises(ConfigError, match=signing.PASSPHRASE_ENV):
        signing.sign_manifest({"a": 1}, ring)


@pytest.mark.parametrize("target", ["keyring.json", "."])
def test_keyring_writable_by_others_is_refused(keyring, target):
    path = keyring.path / target
    path.chmod(stat.S_IMODE(path.stat().st_mode) | stat.S_IWGRP)
    with pytest.raises(ConfigError, match="chmod go-w"):
        keyring.entries()


def test_failed_rotation_leaves_the_keyring_as_it_was(keyring, monkeypatch):
    before = {p.name: p.read_bytes() for p in keyring.path.iterdir()}
    calls = []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 3:  # private key, public key, then keyring.json fails
            raise OSError("disk full")

    monkeypatch.setattr(signing.os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk full"):
        keyring.rotate()
    assert len(calls) == 3
    assert {p.name: p.read_bytes() for p in keyring.path.iterdir()} == before


def test_trusted_public_key_verifies_but_never_signs(bundle, keyring, tmp_path):
    service = Keyring(tmp_path / "service")
    entry = service.trust(keyring.public_pem().encode())
    assert entry == dict(entry, key_id=keyring.active()["key_id"], status="trusted", private=False)
    assert verify_bundle(bundle, service).key["status"] == "trusted"
    with pytest.raises(ConfigError, match="keys generate"):
        signing.sign_manifest(bundle["manifest"], service)


def test_trust_refuses_a_key_that_is_not_ed25519(tmp_path):
    pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ConfigError, match="Ed25519"):
        Keyring(tmp_path / "keys").trust(pem)


def test_a_private_key_file_that_is_not_ed25519_is_refused(keyring):
    key_file = keyring.path / f"{keyring.active()['key_id']}.key.pem"
    key_file.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()
        )
    )
    with pytest.raises(
        ConfigError,
        match=r"key\.pem: expected an Ed25519 private key, found "
        r"\w*PrivateKey",
    ):
        keyring.signing_key()


def test_a_replaced_public_key_file_is_detected(bundle, keyring, tmp_path):
    other = Keyring(tmp_path / "other")
    other.generate()
    key_id = keyring.active()["key_id"]
    (keyring.path / f"{key_id}.pub.pem").write_text(other.public_pem())
    with pytest.raises(ConfigError, match="holds another key"):
        verify_bundle(bundle, keyring)


# --- manifest provenance ---------------------------------------------------------------------


def test_manifest_records_training_data_metrics_and_creator(model, tmp_path, monkeypatch):
    monkeypatch.setenv("TRUSTSHIELD_OPERATOR", "carol")
    data = {"name": "flows.csv", "sha256": "ab" * 32, "path": "/private/flows.csv"}
    trained = dataclasses.replace(model, training={**model.training, "data": data})
    manifest = save_model(trained, tmp_path / "m")
    assert manifest["training_data"] == {"name": "flows.csv", "sha256": "ab" * 32}
    assert manifest["creator"] == "carol"
    selection = model.training["selection"]
    assert manifest["metrics"]["normal_fpr"] == selection["normal_fpr"]
    assert manifest["metrics"]["objective"] == selection["objective"]
    canonical(manifest)  # finite numbers only: it can be signed


def test_manifest_written_before_provenance_keys_still_loads(signed):
    path = signed / "manifest.json"
    old = {
        k: v
        for k, v in json.loads(path.read_text()).items()
        if k not in ("training_data", "metrics", "creator")
    }
    path.write_text(json.dumps(old))
    assert load_model(signed).manifest == old
