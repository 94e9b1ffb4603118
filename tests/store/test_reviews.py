"""The review queue: abstained records and picked alerts queue; outcomes are audited and
exported as labelled feedback."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from trustshield.errors import StoreError
from trustshield.store import AlertStore
from trustshield.store.reviews import ReviewQueue

MANIFEST = {
    "model_id": "m0123456789abcdef",
    "created_at": "2024-05-01T12:00:00+00:00",
    "spec": "tiny",
    "detector": "hybrid(gbdt, prototype)",
    "files": {},
}
FEATURES = [
    {"name": "bytes", "type": "integer", "categories": []},
    {"name": "proto", "type": "categorical", "categories": ["tcp", "udp"]},
]


def add_alert(store, alert_id: str, action: str, values=(10.0, 1.0)) -> None:
    store.db.execute(
        "INSERT INTO alerts (alert_id, model_id, line, action, suspicion, category, base,"
        " attributions, feature_values, rationale, created_at) VALUES"
        " (?, ?, 1, ?, 0.9, 'DoS', 0.1, ?, ?, 'why', ?)",
        [
            alert_id,
            MANIFEST["model_id"],
            action,
            [0.5, 0.3],
            list(values),
            datetime.now(timezone.utc),
        ],
    )


@pytest.fixture
def queue(store_target):
    with AlertStore(store_target, actor="analyst-1") as store:
        store.record_model(MANIFEST, FEATURES)
        for i, action in enumerate(("alert", "review", "review")):
            add_alert(store, f"a{i}", action)
        yield ReviewQueue(store)


def test_abstained_records_queue_in_one_statement(queue):
    queue.enqueue_abstained(["a1", "a2"], MANIFEST["model_id"])
    queue.enqueue_abstained([], MANIFEST["model_id"])
    assert [i["alert_id"] for i in queue.items()] == ["a1", "a2"]
    assert {i["reason"] for i in queue.items()} == {"abstain band"}


def test_an_analyst_picks_an_alert_and_closes_it_with_audit(queue):
    queue.pick("a0", "odd port")
    closed = queue.decide("a0", "confirmed", "scan from a known bad host")
    assert closed["status"] == "confirmed" and closed["reviewed_by"] == "analyst-1"
    assert queue.items() == []
    events = [(e["action"], e["subject"]) for e in queue.store.audit.events()]
    assert ("review.queue", "a0") in events and ("review.decide", "a0") in events


def test_refusals_unknown_alert_double_pick_bad_outcome(queue):
    with pytest.raises(StoreError, match="no alert"):
        queue.pick("nope", "")
    queue.pick("a0", "")
    with pytest.raises(StoreError, match="already"):
        queue.pick("a0", "")
    with pytest.raises(StoreError, match="outcome"):
        queue.decide("a0", "maybe", "")


def test_feedback_labels_closed_items_and_is_audited(queue):
    queue.enqueue_abstained(["a1", "a2"], MANIFEST["model_id"])
    queue.decide("a1", "dismissed", "backup job")
    queue.decide("a2", "confirmed", "exfiltration")
    items = queue.feedback()
    assert [(i["alert_id"], i["outcome"]) for i in items] == [
        ("a1", "dismissed"),
        ("a2", "confirmed"),
    ]
    assert items[0]["feature_values"] == [10.0, 1.0]
    assert queue.store.audit.events("review.export")[-1]["details"] == {"items": 2}
