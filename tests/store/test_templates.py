"""Encrypted templates: AES-GCM under a key from the environment, bound to user and kind,
audited without their contents, and deleted completely."""

import base64
import json
import stat

import pytest

from trustshield.errors import ConfigError, ModelIntegrityError, StoreError
from trustshield.store import AlertStore
from trustshield.store.templates import KEY_ENV, TemplateStore, new_template_key, template_key

STATE = {
    "verifier": {"mean": [131.0417, 88.5123], "spread": [7.7713, 3.3391]},
    "features": ["Hold t", "Hold i"],
    "samples": 51,
}
SECRET_VALUES = ("131.0417", "88.5123", "7.7713", "3.3391")


@pytest.fixture
def key(monkeypatch):
    value = new_template_key()
    monkeypatch.setenv(KEY_ENV, value)
    return value


@pytest.fixture
def store(tmp_path, key):
    with AlertStore(tmp_path / "audit.duckdb", actor="alice") as audit:
        yield TemplateStore(tmp_path / "templates", audit=audit)


def test_a_template_round_trips_and_lands_encrypted_in_a_private_file(store):
    store.enrol("alice", "keystroke", STATE)
    assert store.load("alice") == ("keystroke", STATE)
    path = store.path / "alice.template"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o700
    text = path.read_text()
    assert not any(v in text for v in SECRET_VALUES) and "Hold t" not in text
    assert json.loads(text)["algorithm"] == "AES-256-GCM"
    assert store.users() == ["alice"]


def test_enrolling_again_replaces_the_template(store):
    store.enrol("alice", "keystroke", STATE)
    store.enrol("alice", "mouse", {"other": 1})
    assert store.load("alice") == ("mouse", {"other": 1})
    assert store.users() == ["alice"]
    assert not list(store.path.glob(".*"))  # no partial files left behind


def test_a_missing_key_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match=f"{KEY_ENV} is not set.*urlsafe_b64encode"):
        TemplateStore(tmp_path / "t", audit=tmp_path / "a.duckdb").enrol(
            "alice", "keystroke", STATE
        )
    assert not (tmp_path / "t").exists()


@pytest.mark.parametrize("bad", ["short", "!" * 44, base64.urlsafe_b64encode(b"x" * 16).decode()])
def test_a_malformed_key_is_refused_with_the_recipe(bad):
    with pytest.raises(ConfigError, match="32 random bytes.*urlsafe_b64encode"):
        template_key(bad)


def test_another_key_cannot_read_the_template(store, tmp_path):
    store.enrol("alice", "keystroke", STATE)
    other = TemplateStore(store.path, key=new_template_key(), audit=tmp_path / "audit2.duckdb")
    with pytest.raises(ModelIntegrityError, match="failed authentication"):
        other.load("alice")


def test_an_altered_ciphertext_fails_to_load(store):
    store.enrol("alice", "keystroke", STATE)
    path = store.path / "alice.template"
    envelope = json.loads(path.read_text())
    raw = bytearray(base64.b64decode(envelope["ciphertext"]))
    raw[5] ^= 1
    envelope["ciphertext"] = base64.b64encode(bytes(raw)).decode()
    path.write_text(json.dumps(envelope))
    with pytest.raises(ModelIntegrityError, match="altered"):
        store.load("alice")


def test_a_template_copied_over_another_users_fails_to_load(store):
    store.enrol("alice", "keystroke", STATE)
    store.enrol("mallory", "keystroke", {**STATE, "samples": 3})
    (store.path / "alice.template").write_bytes((store.path / "mallory.template").read_bytes())
    with pytest.raises(ModelIntegrityError, match="another user"):
        store.load("alice")


def test_a_template_relabelled_as_another_kind_fails_to_load(store):
    store.enrol("alice", "keystroke", STATE)
    path = store.path / "alice.template"
    path.write_text(path.read_text().replace('"keystroke"', '"mouse"'))
    with pytest.raises(ModelIntegrityError):
        store.load("alice")


def test_a_garbled_file_fails_to_load(store):
    store.enrol("alice", "keystroke", STATE)
    (store.path / "alice.template").write_text("{not json")
    with pytest.raises(ModelIntegrityError):
        store.load("alice")


@pytest.mark.parametrize("user", ["../alice", ".hidden", "", "a/b", "x" * 200])
def test_unusable_user_ids_are_refused(store, user):
    with pytest.raises(StoreError, match="not usable"):
        store.enrol(user, "keystroke", STATE)


def test_delete_leaves_no_trace_of_the_template(store, tmp_path, monkeypatch):
    store.enrol("alice", "keystroke", STATE)
    store.enrol("bob", "keystroke", STATE)
    envelope = json.loads((store.path / "alice.template").read_text())
    ciphertext = base64.b64decode(envelope["ciphertext"])
    (store.path / ".alice.crashed.partial").write_bytes(b"leftover of an interrupted write")
    monkeypatch.delenv(KEY_ENV)  # erasure must work without the key
    store.delete("alice")
    assert store.users() == ["bob"]
    assert sorted(p.name for p in store.path.iterdir()) == ["bob.template"]
    for file in [*tmp_path.rglob("*")]:
        if file.is_file():
            data = file.read_bytes()
            assert ciphertext[:32] not in data and envelope["ciphertext"][:40].encode() not in data
    with pytest.raises(StoreError, match="no enrolled template"):
        store.load("alice")
    with pytest.raises(StoreError, match="no enrolled template"):
        store.delete("alice")


def test_every_change_is_audited_without_the_template(store):
    store.enrol("alice", "keystroke", STATE, details={"samples": 51})
    store.delete("alice")
    audit = store._audit.audit
    events = audit.events()
    assert [(e["action"], e["subject"]) for e in events] == [
        ("template.enrol", "alice"),
        ("template.delete", "alice"),
    ]
    assert events[0]["details"]["samples"] == 51 and events[0]["details"]["kind"] == "keystroke"
    assert audit.verify() is None
    text = json.dumps([e["details"] for e in events])
    assert not any(v in text for v in SECRET_VALUES) and "Hold t" not in text
