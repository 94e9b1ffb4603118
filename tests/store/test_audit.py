"""The audit chain: linked sha256 hashes and an authenticated head, written with the change
they record, verifiable; on DuckDB and on PostgreSQL."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest

from trustshield.store import AlertStore
from trustshield.store.audit import (
    BAD_HASH,
    BAD_MAC,
    EXTRA_TAIL,
    GENESIS,
    KEY_ENV,
    MISSING_TAIL,
    NO_HEAD,
    UNKEYED,
    head_mac,
    key_fingerprint,
)
from trustshield.store.audit_head import UNKEYED_HEAD

MANIFEST = {
    "model_id": "m0123456789abcdef",
    "created_at": "2024-05-01T12:00:00+00:00",
    "spec": "tiny",
    "detector": "hybrid(gbdt, prototype)",
    "files": {"model.json": "ab" * 32},
}
FEATURES = [{"name": "bytes", "type": "integer", "categories": []}]


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, "a test key, not a secret")
    return b"a test key, not a secret"


@pytest.fixture
def store(store_target, key):
    with AlertStore(store_target, actor="alice") as s:
        yield s


def expected_hash(prev: str, event: dict) -> str:
    """The documented rule, written out independently of the module."""
    body = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def append_three(store):
    for i, action in enumerate(("test.one", "test.two", "test.one")):
        store.record_event(
            action, f"subject-{i}", {"i": i, "note": "é", "nested": {"b": 1, "a": [1.5, None]}}
        )


def test_events_link_and_hash_by_the_documented_rule(store):
    append_three(store)
    events = store.audit.events()
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[0]["prev_hash"] == GENESIS
    for before, event in zip([None, *events], events):
        prev = GENESIS if before is None else before["hash"]
        assert event["prev_hash"] == prev
        assert event["hash"] == expected_hash(prev, event)
    assert events[0]["actor"] == "alice" and events[0]["details"]["nested"] == {
        "a": [1.5, None],
        "b": 1,
    }
    assert events[0]["at"].endswith("+00:00")
    stored = store.db.execute("SELECT details FROM audit_events WHERE seq = 1").fetchone()[0]
    assert stored == '{"i":0,"nested":{"a":[1.5,null],"b":1},"note":"é"}'


def test_events_filter_by_action_and_subject(store):
    append_three(store)
    assert [e["seq"] for e in store.audit.events("test.one")] == [1, 3]
    assert [e["seq"] for e in store.audit.events("test.one", subject="subject-2")] == [3]
    assert store.audit.events("nothing") == []


def test_verify_accepts_an_intact_chain_and_survives_reopening(store_target, key):
    path = store_target
    with AlertStore(path, actor="alice") as s:
        assert s.audit.verify() is None  # an empty chain holds
        append_three(s)
    with AlertStore(path, actor="bob") as s:
        s.record_event("test.more", "x", {})
        assert s.audit.verify() is None
        assert [e["actor"] for e in s.audit.events()] == ["alice"] * 3 + ["bob"]


@pytest.mark.parametrize(
    "tamper, first_broken",
    [
        ("UPDATE audit_events SET details = '{\"i\":9}' WHERE seq = 2", 2),
        ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3", 3),
        ('UPDATE audit_events SET "at" = "at" + INTERVAL \'1 second\' WHERE seq = 1', 1),
        ("DELETE FROM audit_events WHERE seq = 2", 2),
        ("DELETE FROM audit_events WHERE seq = 1", 1),
    ],
)
def test_verify_names_the_first_broken_event(store, tamper, first_broken):
    append_three(store)
    store.db.execute(tamper)
    assert store.audit.verify() == first_broken


def test_a_rehashed_event_still_breaks_the_link_of_the_next(store):
    append_three(store)
    event = store.audit.events()[1]
    forged = {**event, "details": {"i": 9}}
    store.db.execute(
        "UPDATE audit_events SET details = ?, hash = ? WHERE seq = 2",
        ['{"i":9}', expected_hash(event["prev_hash"], forged)],
    )
    assert store.audit.verify() == 3


def test_an_event_rolls_back_with_the_change_it_records(store):
    store.db.execute("CREATE TABLE things (x INTEGER)")
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.db.execute("INSERT INTO things VALUES (1)")
            store.record_event("thing.add", "1", {})
            raise RuntimeError("fails after the event")
    assert store.db.execute("SELECT count(*) FROM things").fetchone()[0] == 0
    assert store.audit.events() == []
    store.record_event("thing.add", "2", {})
    assert [e["seq"] for e in store.audit.events()] == [1]


def test_non_finite_numbers_are_stored_as_null(store):
    store.record_event("test.nan", "x", {"value": float("nan"), "inf": float("inf")})
    assert store.audit.events()[0]["details"] == {"value": None, "inf": None}


def test_registering_a_model_is_audited_once(store):
    assert store.record_model(MANIFEST, FEATURES) is True
    assert store.record_model(MANIFEST, FEATURES) is False
    [event] = store.audit.events("model.register")
    assert event["subject"] == MANIFEST["model_id"] and event["actor"] == "alice"
    assert event["details"]["files"] == MANIFEST["files"]
    assert store.model(MANIFEST["model_id"])["manifest"] == MANIFEST
    assert store.model("unknown") is None


def test_finishing_a_run_is_audited_with_its_counts(store):
    store.record_model(MANIFEST, FEATURES)
    store.start_run(
        run_id="r1",
        kind="detect",
        model_id=MANIFEST["model_id"],
        source_path="flows.csv",
        source_sha256="5" * 64,
    )
    store.finish_run("r1", "complete")
    [event] = store.audit.events("detect.run")
    assert event["subject"] == "r1"
    details = event["details"]
    assert details["status"] == "complete" and details["model_id"] == MANIFEST["model_id"]
    assert details["source_sha256"] == "5" * 64 and details["rows_read"] == 0
    assert details["finished_at"] is not None


def test_check_reports_an_intact_keyed_chain(store):
    append_three(store)
    check = store.audit.check()
    assert (check.ok, check.events, check.first_broken, check.reason, check.keyed) == (
        True,
        3,
        None,
        None,
        True,
    )
    assert check.warning is None


def test_the_head_records_the_last_event_under_the_key(store, key):
    append_three(store)
    last = store.audit.events()[-1]
    head = store.db.execute("SELECT seq, hash, mac FROM audit_head").fetchall()
    expected_mac = hmac.new(key, f"3:{last['hash']}".encode(), hashlib.sha256).hexdigest()
    assert head == [(3, last["hash"], expected_mac)]


def test_deleting_the_last_event_shows(store):
    append_three(store)
    store.db.execute("DELETE FROM audit_events WHERE seq = 3")
    check = store.audit.check()
    assert not check.ok and check.first_broken == 3
    assert check.reason == MISSING_TAIL.format(last=2, head=3)


def test_a_forged_event_appended_at_the_end_shows(store):
    append_three(store)
    last = store.audit.events()[-1]
    forged = {
        "seq": 4,
        "at": last["at"],
        "actor": "mallory",
        "action": "test.forged",
        "subject": "x",
        "details": {},
    }
    digest = expected_hash(last["hash"], forged)
    store.db.execute(
        "INSERT INTO audit_events VALUES (4, ?, 'mallory', 'test.forged', 'x', '{}', ?, ?)",
        [last["at"], last["hash"], digest],
    )
    assert store.audit.check().reason == EXTRA_TAIL.format(head=3)
    assert store.audit.verify() == 4
    # moving the head too needs the key: a plain sha256 head does not authenticate
    store.db.execute(
        "UPDATE audit_head SET seq = 4, hash = ?, mac = ?", [digest, head_mac(4, digest, None)]
    )
    check = store.audit.check()
    assert (check.first_broken, check.reason) == (4, BAD_MAC.format(key_env=KEY_ENV))


def test_a_missing_or_doubled_head_shows(store):
    append_three(store)
    store.db.execute("INSERT INTO audit_head SELECT * FROM audit_head")
    assert store.audit.check().reason == NO_HEAD.format(rows=2)
    store.db.execute("DELETE FROM audit_head")
    check = store.audit.check()
    assert (check.ok, check.first_broken, check.reason) == (False, 3, NO_HEAD.format(rows=0))


def test_a_changed_event_is_named_with_the_reason(store):
    append_three(store)
    store.db.execute("UPDATE audit_events SET subject = 'other' WHERE seq = 2")
    check = store.audit.check()
    assert (check.ok, check.events, check.first_broken, check.reason) == (
        False,
        3,
        2,
        BAD_HASH.format(seq=2),
    )


def test_without_a_key_the_check_warns_that_the_tail_is_unprotected(store_target, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with AlertStore(store_target, actor="alice") as s:
        append_three(s)
        check = s.audit.check()
        assert check.ok and not check.keyed and check.warning == UNKEYED
        monkeypatch.setenv(KEY_ENV, "set too late")
        assert s.audit.check().reason == UNKEYED_HEAD.format(
            key_env=KEY_ENV, current=key_fingerprint(b"set too late")
        )


def test_a_store_with_events_and_no_head_is_not_given_one(tmp_path, key):
    """A store from before the head existed looks exactly like one whose head was dropped:
    it must be resealed on purpose (``trustshield audit reseal``)."""
    path = tmp_path / "old.duckdb"
    with AlertStore(path, actor="alice") as s:
        append_three(s)
        s.db.execute("DROP TABLE audit_head")
    with AlertStore(path, actor="bob") as s:
        check = s.audit.check()
        assert (check.ok, check.problem, check.events) == (False, "no_head", 3)


@pytest.mark.postgres
def test_concurrent_writers_on_postgres_keep_one_chain(request, key):
    url = request.getfixturevalue("fresh_postgres")
    AlertStore(url).close()  # create the schema once

    def write(name):
        with AlertStore(url, actor=name) as s:
            for i in range(15):
                s.record_event("test.concurrent", f"{name}-{i}", {"i": i})

    threads = [threading.Thread(target=write, args=(f"w{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with AlertStore(url) as s:
        check = s.audit.check()
        assert check.ok and check.events == 60
