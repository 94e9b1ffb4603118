"""The audit chain: linked sha256 hashes, written with the change it records, verifiable."""

from __future__ import annotations

import hashlib
import json

import pytest

from trustshield.store import AlertStore
from trustshield.store.audit import GENESIS

MANIFEST = {"model_id": "m0123456789abcdef", "created_at": "2024-05-01T12:00:00+00:00",
            "spec": "tiny", "detector": "hybrid(gbdt, prototype)", "files": {"model.json": "ab" * 32}}
FEATURES = [{"name": "bytes", "type": "integer", "categories": []}]


@pytest.fixture
def store(tmp_path):
    with AlertStore(tmp_path / "audit.duckdb", actor="alice") as s:
        yield s


def expected_hash(prev: str, event: dict) -> str:
    """The documented rule, written out independently of the module."""
    body = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def append_three(store):
    for i, action in enumerate(("test.one", "test.two", "test.one")):
        store.record_event(action, f"subject-{i}", {"i": i, "note": "é", "nested": {"b": 1, "a": [1.5, None]}})


def test_events_link_and_hash_by_the_documented_rule(store):
    append_three(store)
    events = store.audit.events()
    assert [e["seq"] for e in events] == [1, 2, 3]
    assert events[0]["prev_hash"] == GENESIS
    for before, event in zip([None, *events], events):
        prev = GENESIS if before is None else before["hash"]
        assert event["prev_hash"] == prev
        assert event["hash"] == expected_hash(prev, event)
    assert events[0]["actor"] == "alice" and events[0]["details"]["nested"] == {"a": [1.5, None], "b": 1}
    assert events[0]["at"].endswith("+00:00")
    stored = store.db.execute("SELECT details FROM audit_events WHERE seq = 1").fetchone()[0]
    assert stored == '{"i":0,"nested":{"a":[1.5,null],"b":1},"note":"é"}'


def test_events_filter_by_action_and_subject(store):
    append_three(store)
    assert [e["seq"] for e in store.audit.events("test.one")] == [1, 3]
    assert [e["seq"] for e in store.audit.events("test.one", subject="subject-2")] == [3]
    assert store.audit.events("nothing") == []


def test_verify_accepts_an_intact_chain_and_survives_reopening(tmp_path):
    path = tmp_path / "a.duckdb"
    with AlertStore(path, actor="alice") as s:
        assert s.audit.verify() is None  # an empty chain holds
        append_three(s)
    with AlertStore(path, actor="bob") as s:
        s.record_event("test.more", "x", {})
        assert s.audit.verify() is None
        assert [e["actor"] for e in s.audit.events()] == ["alice"] * 3 + ["bob"]


@pytest.mark.parametrize("tamper, first_broken", [
    ("UPDATE audit_events SET details = '{\"i\":9}' WHERE seq = 2", 2),
    ("UPDATE audit_events SET actor = 'mallory' WHERE seq = 3", 3),
    ("UPDATE audit_events SET \"at\" = \"at\" + INTERVAL 1 SECOND WHERE seq = 1", 1),
    ("DELETE FROM audit_events WHERE seq = 2", 3),
    ("DELETE FROM audit_events WHERE seq = 1", 2),
])
def test_verify_names_the_first_broken_event(store, tamper, first_broken):
    append_three(store)
    store.db.execute(tamper)
    assert store.audit.verify() == first_broken


def test_a_rehashed_event_still_breaks_the_link_of_the_next(store):
    append_three(store)
    event = store.audit.events()[1]
    forged = {**event, "details": {"i": 9}}
    store.db.execute("UPDATE audit_events SET details = ?, hash = ? WHERE seq = 2",
                     ['{"i":9}', expected_hash(event["prev_hash"], forged)])
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
    store.start_run(run_id="r1", kind="detect", model_id=MANIFEST["model_id"],
                    source_path="flows.csv", source_sha256="5" * 64)
    store.finish_run("r1", "complete")
    [event] = store.audit.events("detect.run")
    assert event["subject"] == "r1"
    details = event["details"]
    assert details["status"] == "complete" and details["model_id"] == MANIFEST["model_id"]
    assert details["source_sha256"] == "5" * 64 and details["rows_read"] == 0
    assert details["finished_at"] is not None
