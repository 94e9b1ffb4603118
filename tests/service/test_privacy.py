"""Pseudonyms for identities and retention of alerts (on a DuckDB store in tmp_path)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from trustshield.errors import ConfigError, DataError, StoreError
from trustshield.privacy import (
    EMPTY_USER,
    KEY_ENV,
    KEY_MISSING,
    KEY_SHORT,
    NOT_AN_IP,
    Pseudonymiser,
)
from trustshield.records import UNKNOWN_ENTITY, AlertEntities
from trustshield.service.privacy import apply_retention
from trustshield.store import AlertStore

KEY = bytes(range(32))
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def pseudonymiser():
    return Pseudonymiser(KEY)


def test_a_pseudonym_is_the_scoped_hmac_prefix(pseudonymiser):
    expected = hmac.new(KEY, b"ip\x0010.0.0.1", hashlib.sha256).hexdigest()[:32]
    assert pseudonymiser.pseudonymise("10.0.0.1") == "hmac:" + expected


def test_pseudonyms_are_deterministic_and_depend_on_the_key(pseudonymiser):
    again = Pseudonymiser(KEY).pseudonymise("192.0.2.7")
    other = Pseudonymiser(b"\xff" * 32).pseudonymise("192.0.2.7")
    assert pseudonymiser.pseudonymise("192.0.2.7") == again != other
    assert pseudonymiser.pseudonymise("192.0.2.7") != pseudonymiser.pseudonymise("192.0.2.8")


def test_a_host_keeps_one_pseudonym_as_source_and_destination(pseudonymiser):
    entities = AlertEntities(src_ip="10.1.1.1", dst_ip="10.1.1.1").pseudonymised(pseudonymiser)
    assert entities.src_ip == entities.dst_ip


def test_users_and_addresses_live_in_separate_scopes(pseudonymiser):
    as_user = pseudonymiser.pseudonymise("10.0.0.1", field="user")
    assert as_user != pseudonymiser.pseudonymise("10.0.0.1", field="src_ip")


def test_equivalent_spellings_of_an_address_share_a_pseudonym(pseudonymiser):
    same = {pseudonymiser.pseudonymise(v) for v in ("2001:DB8::1", "2001:db8:0:0::1")}
    mapped = pseudonymiser.pseudonymise("::ffff:192.0.2.1")
    assert len(same) == 1 and mapped == pseudonymiser.pseudonymise("192.0.2.1")


def test_identities_are_all_pseudonymised_and_the_rest_kept(pseudonymiser):
    out = AlertEntities(
        src_ip="10.0.0.2", user="alice", dst_port=22, proto="tcp", uid="C1x"
    ).pseudonymised(pseudonymiser)
    assert out.dst_ip is None and (out.dst_port, out.proto, out.uid) == (22, "tcp", "C1x")
    assert all(v.startswith("hmac:") and len(v) == 5 + 32 for v in (out.src_ip, out.user))
    assert "alice" not in str(out) and "10.0.0.2" not in str(out)


def test_unknown_entity_fields_are_refused():
    with pytest.raises(DataError) as caught:
        AlertEntities.from_mapping({"src_ip": "10.0.0.1", "hostname": "db-1"})
    assert str(caught.value) == UNKNOWN_ENTITY.format(
        field="hostname", expected="ts, uid, src_ip, src_port, dst_ip, dst_port, proto, user"
    )


@pytest.mark.parametrize("value", ["10.0.0.256", "not-an-ip", "", " 10.0.0.1", 167772161])
def test_values_that_are_not_addresses_are_refused_naming_field_and_value(pseudonymiser, value):
    with pytest.raises(DataError) as caught:
        pseudonymiser.pseudonymise(value, field="dst_ip")
    assert str(caught.value) == NOT_AN_IP.format(field="dst_ip", value=value)
    with pytest.raises(DataError) as caught:
        AlertEntities(dst_ip=value)
    assert str(caught.value) == NOT_AN_IP.format(field="dst_ip", value=value)


@pytest.mark.parametrize("value", ["", "   ", 42])
def test_user_names_must_be_non_empty_text(pseudonymiser, value):
    with pytest.raises(DataError) as caught:
        pseudonymiser.pseudonymise(value, field="user")
    assert str(caught.value) == EMPTY_USER.format(field="user", value=value)


@pytest.mark.parametrize(
    "encode",
    [
        bytes.hex,
        lambda k: base64.b64encode(k).decode(),
        lambda k: base64.urlsafe_b64encode(k).decode(),
    ],
)
def test_the_key_is_read_from_the_environment_as_hex_or_base64(encode):
    key = bytes(range(216, 256))  # 40 bytes; base64 has + and / in it
    from_env = Pseudonymiser.from_env({KEY_ENV: encode(key)})
    assert from_env.pseudonymise("10.0.0.9") == Pseudonymiser(key).pseudonymise("10.0.0.9")
    assert key.hex() not in repr(from_env)


def test_a_missing_key_is_a_clear_error():
    with pytest.raises(ConfigError) as caught:
        Pseudonymiser.from_env({})
    assert str(caught.value) == KEY_MISSING


@pytest.mark.parametrize("text", ["00" * 16, base64.b64encode(b"k" * 31).decode()])
def test_a_short_key_is_refused(text):
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        Pseudonymiser.from_env({KEY_ENV: text})


def test_a_key_in_neither_encoding_is_refused():
    with pytest.raises(ConfigError, match="hex or base64"):
        Pseudonymiser.from_env({KEY_ENV: "this is not a key!"})
    assert (
        KEY_SHORT.format(minimum=32, got="16 bytes")
        == "the pseudonymisation key must be at least 32 bytes; got 16 bytes"
    )


# retention ---------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "db" / "alerts.duckdb", actor="retention-test") as s:
        yield s


def add_alerts(store, ages_in_days: dict[str, float | None]) -> None:
    for alert, age in ages_in_days.items():
        created = None if age is None else NOW - timedelta(days=age)
        store.db.execute(
            "INSERT INTO alerts (alert_id, model_id, created_at) VALUES (?, ?, ?)",
            [alert, "m1", created],
        )


def add_reviews(store, alert_ids) -> None:
    store.db.execute(
        "CREATE TABLE IF NOT EXISTS reviews (alert_id VARCHAR PRIMARY KEY, status VARCHAR)"
    )
    for alert in alert_ids:
        store.db.execute("INSERT INTO reviews (alert_id, status) VALUES (?, 'open')", [alert])


def ids(store, table: str) -> set[str]:
    return {row[0] for row in store.db.execute(f"SELECT alert_id FROM {table}").fetchall()}


def test_retention_deletes_old_alerts_and_their_reviews_and_audits_it(store):
    add_alerts(store, {"old-1": 40, "old-2": 31, "new-1": 29, "new-2": 0.5, "undated": None})
    add_reviews(store, ["old-1", "new-1"])
    result = apply_retention(store, days=30, now=NOW)
    assert ids(store, "alerts") == {"new-1", "new-2", "undated"}
    assert ids(store, "reviews") == {"new-1"}
    events = store.audit.events("retention.delete")
    assert len(events) == 1 and events[0]["subject"] == "alerts"
    assert (
        events[0]["details"]
        == result
        == {
            "cutoff": (NOW - timedelta(days=30)).isoformat(),
            "deleted": 2,
            "reviews_deleted": 1,
            "days": 30,
        }
    )
    assert store.audit.verify() is None


def test_retention_without_a_reviews_table_deletes_alerts_only(store):
    store.db.execute("DROP TABLE reviews")  # as a store written before the queue existed
    add_alerts(store, {"old": 10, "new": 1})
    assert apply_retention(store, days=7, now=NOW)["deleted"] == 1
    assert ids(store, "alerts") == {"new"}


def test_a_second_run_finds_nothing_more_but_is_still_audited(store):
    add_alerts(store, {"old": 10, "new": 1})
    apply_retention(store, days=7, now=NOW)
    assert apply_retention(store, days=7, now=NOW)["deleted"] == 0
    assert [e["details"]["deleted"] for e in store.audit.events("retention.delete")] == [1, 0]


def test_nothing_is_deleted_when_the_audit_event_fails(store, monkeypatch):
    add_alerts(store, {"old": 40, "new": 1})
    add_reviews(store, ["old"])

    def broken(*args, **kwargs):
        raise StoreError("audit chain unavailable")

    monkeypatch.setattr(store, "record_event", broken)
    with pytest.raises(StoreError, match="audit chain unavailable"):
        apply_retention(store, days=30, now=NOW)
    assert ids(store, "alerts") == {"old", "new"} and ids(store, "reviews") == {"old"}
    assert store.audit.events("retention.delete") == []


def test_a_reviews_table_without_alert_ids_is_refused_before_deleting(store):
    add_alerts(store, {"old": 40})
    store.db.execute("DROP TABLE reviews")  # the store makes its own: replace it
    store.db.execute("CREATE TABLE reviews (item VARCHAR)")
    with pytest.raises(StoreError, match="no alert_id column"):
        apply_retention(store, days=30, now=NOW)
    assert ids(store, "alerts") == {"old"}


@pytest.mark.parametrize(
    "days, now", [(0, NOW), (-3, NOW), (1.5, NOW), (True, NOW), (30, NOW.replace(tzinfo=None))]
)
def test_bad_retention_settings_are_refused(store, days, now):
    add_alerts(store, {"old": 400})
    with pytest.raises(ConfigError):
        apply_retention(store, days=days, now=now)
    assert ids(store, "alerts") == {"old"}
