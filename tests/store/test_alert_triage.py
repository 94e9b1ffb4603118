"""Triage in the store (both databases): event time and searchable entity columns derived
from what writers give (old stores migrated), sort with a stable tiebreak, time range and
entity search, counts, and review-band alerts queued by every writer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from test_alerts import MODEL, RUN, SOURCE_SHA, alerts_table, counters, with_model_and_run
from trustshield.errors import DataError
from trustshield.pipeline.detect import entity_column
from trustshield.privacy import KEY_ENV, Pseudonymiser
from trustshield.store import AlertStore, alert_id
from trustshield.store.alert_queries import AlertFilter, AlertSort, alert_counts, alert_page
from trustshield.store.database import connect
from trustshield.store.entities import SEARCH_COLUMNS, switch_on

#: the alerts table as stores before event_time and the entity columns had it
OLD_ALERTS = """
CREATE TABLE alerts (
    alert_id VARCHAR PRIMARY KEY, run_id VARCHAR, model_id VARCHAR, source_sha256 VARCHAR,
    line BIGINT, action VARCHAR, suspicion DOUBLE PRECISION, category VARCHAR,
    technique VARCHAR, component VARCHAR, label VARCHAR, base DOUBLE PRECISION,
    attributions DOUBLE PRECISION[], feature_values DOUBLE PRECISION[], rationale VARCHAR,
    created_at TIMESTAMPTZ, entities VARCHAR)
"""
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
KEY = "0f" * 32


@pytest.fixture
def store(store_target):
    with AlertStore(store_target, actor="triage-test") as s:
        yield with_model_and_run(s, "c.log")


def batch(lines, entities: list[dict], *, actions=None, suspicion=None) -> pa.Table:
    """alerts_table(lines) with the given entities (dicts of entity fields), actions and
    suspicion."""
    table = alerts_table(lines)
    if actions is not None:
        table = table.set_column(
            table.column_names.index("action"), "action", pa.array(actions, pa.string())
        )
    if suspicion is not None:
        table = table.set_column(
            table.column_names.index("suspicion"), "suspicion", pa.array(suspicion, pa.float64())
        )
    frame = pd.DataFrame(entities)
    return table.append_column("entities", entity_column(frame, np.arange(len(lines))))


def ts(minutes: float) -> float:
    return (T0 + timedelta(minutes=minutes)).timestamp()


def ids(items) -> list[int]:
    return [int(item["alert_id"].rsplit("-", 1)[1]) for item in items]


def page(store, flt=None, sort=None, limit=50):
    return alert_page(
        store.db, flt or AlertFilter(), limit=limit, offset=0, sort=sort or AlertSort()
    )


def test_event_time_and_entity_columns_come_from_the_record(store):
    store.add_batch(
        RUN,
        batch(
            [1, 2],
            [
                {"ts": ts(0.5), "src_ip": "10.0.0.1", "src_port": 5000, "dst_ip": "10.0.0.9"},
                {"dst_port": 22},
            ],
        ),
        [],
        rows_read=2,
    )
    rows = store.db.execute(
        f"SELECT line, {', '.join(SEARCH_COLUMNS)} FROM alerts ORDER BY line"
    ).fetchall()
    assert rows[0][1:] == (T0 + timedelta(seconds=30), "10.0.0.1", "10.0.0.9", 5000, None)
    assert rows[1][1:] == (None, None, None, None, 22)
    [first, second] = page(store, sort=AlertSort("event_time", "asc"))[0]
    assert first["event_time"] == T0 + timedelta(seconds=30) and second["event_time"] is None


def test_a_writers_own_event_time_is_kept_where_given(store):
    table = batch([1, 2], [{"ts": ts(1)}, {"ts": ts(2)}])
    given = pa.array([T0 - timedelta(days=1), None], pa.timestamp("us", tz="UTC"))
    store.insert_alerts(table.append_column("event_time", given))
    times = [
        r[0] for r in store.db.execute("SELECT event_time FROM alerts ORDER BY line").fetchall()
    ]
    assert times == [T0 - timedelta(days=1), T0 + timedelta(minutes=2)]


def test_identities_are_searched_as_stored_pseudonyms_in_a_pseudonymising_store(store, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    switch_on(store)
    store.add_batch(RUN, batch([1], [{"src_ip": "10.0.0.1"}]), [], rows_read=1)
    keyed = Pseudonymiser(bytes.fromhex(KEY)).pseudonymise("10.0.0.1")
    assert store.db.execute("SELECT src_ip FROM alerts").fetchone()[0] == keyed
    assert ids(page(store, AlertFilter(ip=keyed))[0]) == [1]
    assert page(store, AlertFilter(ip="10.0.0.1"))[1] == 0


def test_sort_by_suspicion_and_event_time_with_a_stable_tiebreak(store):
    lines = [1, 2, 10, 100, 20]
    store.add_batch(
        RUN,
        batch(
            lines,
            [{"ts": ts(m)} for m in (5, 5, 1, 9, 5)],
            suspicion=[0.5, 0.9, 0.5, 0.1, 0.7],
        ),
        [],
        rows_read=5,
    )
    store.add_batch(RUN, batch([3], [{"src_ip": "10.0.0.3"}], suspicion=[0.95]), [], rows_read=1)
    assert ids(page(store, sort=AlertSort("suspicion", "desc"))[0]) == [3, 2, 20, 1, 10, 100]
    assert ids(page(store, sort=AlertSort("suspicion", "asc"))[0]) == [100, 1, 10, 20, 2, 3]
    # equal event times: newest stored first, then by line as a number (2 < 20, not "20" < "3")
    assert ids(page(store, sort=AlertSort("event_time", "desc"))[0]) == [100, 1, 2, 20, 10, 3]
    assert ids(page(store, sort=AlertSort("event_time", "asc"))[0]) == [10, 1, 2, 20, 100, 3]
    with pytest.raises(DataError, match="sort must be one of"):
        AlertSort("alert_id")


def test_time_range_and_entity_search(store):
    rows = [
        {
            "ts": ts(0),
            "src_ip": "10.0.0.1",
            "src_port": 40000,
            "dst_ip": "192.0.2.7",
            "dst_port": 22,
        },
        {
            "ts": ts(30),
            "src_ip": "10.0.0.1",
            "src_port": 40001,
            "dst_ip": "192.0.2.8",
            "dst_port": 80,
        },
        {"ts": ts(90), "src_ip": "10.0.1.5", "src_port": 22, "dst_ip": "10.0.0.1", "dst_port": 443},
        {"ts": ts(120), "src_ip": "10.0.0.12", "dst_ip": "192.0.2.7", "dst_port": 22},
        {"src_ip": "2001:db8::10"},
    ]
    store.add_batch(RUN, batch([1, 2, 3, 4, 5], rows), [], rows_read=5)

    def found(**given):
        return sorted(ids(page(store, AlertFilter(**given))[0]))

    assert found(since=T0 + timedelta(minutes=30)) == [2, 3, 4]
    assert found(until=T0 + timedelta(minutes=30)) == [1]  # until is exclusive
    assert found(since=T0, until=T0 + timedelta(hours=1)) == [1, 2]
    assert found(ip="10.0.0.1") == [1, 2, 3]  # either side
    assert found(src_ip="10.0.0.1") == [1, 2]
    assert found(dst_ip="10.0.0.1") == [3]
    assert found(src_ip="10.0.0.1", since=T0 + timedelta(minutes=1)) == [2]
    assert found(host="10.0.0.1") == [1, 2, 3, 4]  # a prefix: 10.0.0.12 too
    assert found(host="10.0.1.") == [3]
    assert found(host="2001:db8:") == [5]
    assert found(host="%") == [] and found(host="10_0") == []  # LIKE wildcards: literal
    assert found(port=22) == [1, 3, 4]  # either side
    assert found(dst_port=22) == [1, 4]


def test_counts_by_category_technique_and_hour(store):
    table = batch([1, 2, 3, 4], [{"ts": ts(m)} for m in (0, 10, 70, 75)])
    table = table.set_column(
        table.column_names.index("category"), "category", pa.array(["DoS", "Probe", "DoS", "DoS"])
    )
    store.add_batch(RUN, table, [], rows_read=4)
    store.add_batch(RUN, batch([5], [{}]), [], rows_read=1)
    counts = alert_counts(store.db, AlertFilter())
    assert counts["category"] == [("DoS", 4), ("Probe", 1)]
    assert counts["technique"] == [("T1499", 5)]
    assert counts["hour"] == [(T0, 2), (T0 + timedelta(hours=1), 2)]
    narrowed = alert_counts(store.db, AlertFilter(category="Probe"))
    assert narrowed["hour"] == [(T0, 1)] and narrowed["category"] == [("Probe", 1)]


def test_review_band_alerts_are_queued_and_counted_once(store):
    actions = ["alert", "review", "review", "alert"]
    table = batch([1, 2, 3, 4], [{}] * 4, actions=actions)
    assert store.add_batch(RUN, table, [], rows_read=4) == 4
    queued = store.reviews.items()
    assert [i["alert_id"] for i in queued] == [alert_id(MODEL, SOURCE_SHA, x) for x in (2, 3)]
    assert {i["reason"] for i in queued} == {"abstain band"}
    assert counters(store) == (4, 4, 2, 0)
    # the same records again (a re-run) add no alert and queue nothing
    more = batch([2, 3, 5], [{}] * 3, actions=["review", "review", "review"])
    assert store.add_batch(RUN, more, [], rows_read=3) == 1
    assert len(store.reviews.items()) == 3
    assert counters(store) == (7, 5, 3, 0)


def test_items_queued_together_are_listed_in_line_order_not_by_id_text(store):
    store.add_batch(RUN, batch([100, 2, 10, 1], [{}] * 4, actions=["review"] * 4), [], rows_read=4)
    listed = [int(i["alert_id"].rsplit("-", 1)[1]) for i in store.reviews.items()]
    assert listed == [1, 2, 10, 100]


def test_insert_alerts_queues_the_review_band_as_the_score_endpoint_does(store):
    written = store.insert_alerts(batch([1, 2], [{}] * 2, actions=["review", "alert"]))
    assert (written.alerts, written.reviews) == (2, 1)
    [item] = store.reviews.items()
    assert item["alert_id"] == alert_id(MODEL, SOURCE_SHA, 1)


def test_an_old_store_gains_the_columns_filled_from_its_entities(store_target):
    """A store written before the searchable columns existed (entities as spaced JSON,
    numbers as text, as older versions wrote them) is migrated when opened."""
    db = connect(store_target)
    db.execute(OLD_ALERTS)
    old = {"ts": ts(3), "src_ip": "10.0.0.1", "dst_port": "443", "dst_ip": "192.0.2.1"}
    db.executemany(
        "INSERT INTO alerts (alert_id, run_id, model_id, line, action, suspicion, created_at,"
        " entities) VALUES (?, 'r', 'm', ?, 'alert', 0.5, ?, ?)",
        [["a1", 1, T0, json.dumps(old, indent=1)], ["a2", 2, T0, None], ["a3", 3, T0, ""]],
    )
    db.close()
    with AlertStore(store_target) as store:
        rows = store.db.execute(
            f"SELECT alert_id, {', '.join(SEARCH_COLUMNS)} FROM alerts ORDER BY alert_id"
        ).fetchall()
        assert rows == [
            ("a1", T0 + timedelta(minutes=3), "10.0.0.1", "192.0.2.1", None, 443),
            ("a2", None, None, None, None, None),
            ("a3", None, None, None, None, None),
        ]
        assert ids_of(page(store, AlertFilter(ip="192.0.2.1"))[0]) == ["a1"]
    with AlertStore(store_target) as store:  # opening again changes nothing
        assert store.db.execute("SELECT count(*) FROM alerts").fetchone()[0] == 3


def test_an_old_store_with_unreadable_entities_is_migrated_row_by_row(store_target):
    db = connect(store_target)
    db.execute(OLD_ALERTS)
    good = json.dumps({"ts": ts(1), "src_ip": "10.0.0.1"})
    db.executemany(
        "INSERT INTO alerts (alert_id, line, action, suspicion, created_at, entities)"
        " VALUES (?, ?, 'alert', 0.5, ?, ?)",
        [["a1", 1, T0, good], ["a2", 2, T0, "{not json"]],
    )
    db.close()
    with AlertStore(store_target) as store:
        rows = store.db.execute(
            "SELECT alert_id, event_time, src_ip FROM alerts ORDER BY alert_id"
        ).fetchall()
    assert rows == [("a1", T0 + timedelta(minutes=1), "10.0.0.1"), ("a2", None, None)]


def ids_of(items) -> list[str]:
    return [item["alert_id"] for item in items]


def test_search_columns_are_typed_as_the_store_types_them():
    from trustshield.store.entities import encode_entities

    column = entity_column(pd.DataFrame([{"ts": 1.5, "src_port": 80}, {}]), np.arange(2))
    stored = encode_entities(column, 2, None)
    assert stored.columns["event_time"].type == pa.timestamp("us", tz="UTC")
    assert pc.cast(stored.columns["event_time"], pa.int64()).to_pylist() == [1_500_000, None]
    assert stored.columns["src_port"].to_pylist() == [80, None]
