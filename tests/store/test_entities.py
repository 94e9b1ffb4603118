"""Alert entities: one typed record, one canonical encoding, one decoder that reads what older
versions wrote, and pseudonymisation applied by the store to whatever writes (both databases)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from test_alerts import MODEL, RUN, SOURCE_SHA, alerts_table, count, with_model_and_run
from trustshield.errors import ConfigError, DataError, StoreError
from trustshield.pipeline.detect import entity_column
from trustshield.privacy import KEY_ENV, KEY_MISSING, Pseudonymiser
from trustshield.records import ENTITY_FIELDS, ENTITY_TYPE, MAX_ENTITY_TEXT, MAX_TS, AlertEntities
from trustshield.store import AlertStore, alert_id
from trustshield.plain_json import canonical
from trustshield.store.entities import decode, encode_column, switch_on

KEY = "0f" * 32
CONNECTION = AlertEntities(
    ts=1700000000.25,
    uid="CHhAvVGS1DHFjwGM9",
    src_ip="2001:DB8::1",
    src_port=51880,
    dst_ip="10.0.0.1",
    dst_port=22,
    proto="tcp",
)


@pytest.fixture
def store(store_target):
    with AlertStore(store_target, actor="entities-test") as s:
        yield with_model_and_run(s, "conn.log")


def with_entities(lines: list[int], records: list[AlertEntities]):
    frame = pd.DataFrame([r.as_dict() for r in records])
    return alerts_table(lines).append_column(
        "entities", entity_column(frame, np.arange(len(lines)))
    )


def stored_text(store) -> list[str | None]:
    return [
        row[0] for row in store.db.execute("SELECT entities FROM alerts ORDER BY line").fetchall()
    ]


def test_entities_are_stored_as_canonical_json_of_typed_values(store):
    store.add_batch(RUN, with_entities([1], [CONNECTION]), [], rows_read=1)
    assert stored_text(store) == [
        '{"dst_ip":"10.0.0.1","dst_port":22,"proto":"tcp","src_ip":"2001:db8::1",'
        '"src_port":51880,"ts":1700000000.25,"uid":"CHhAvVGS1DHFjwGM9"}'
    ]
    read = store.alert(alert_id(MODEL, SOURCE_SHA, 1))["entities"]
    assert read == CONNECTION and isinstance(read.ts, float) and isinstance(read.src_port, int)


def test_a_store_configured_to_pseudonymise_replaces_identities_whoever_writes(store, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    assert switch_on(store) is True and switch_on(store) is False
    user = AlertEntities(user="alice", src_ip="::ffff:192.0.2.1")
    store.add_batch(RUN, with_entities([1, 2], [CONNECTION, user]), [], rows_read=2)
    first, second = (decode(text) for text in stored_text(store))
    keyed = Pseudonymiser(bytes.fromhex(KEY))
    assert first.src_ip == keyed.pseudonymise("2001:db8::1") and first.dst_ip.startswith("hmac:")
    assert (first.ts, first.uid, first.src_port, first.proto) == (
        1700000000.25,
        CONNECTION.uid,
        51880,
        "tcp",
    )
    assert second.user == keyed.pseudonymise("alice", field="user")
    assert second.src_ip == keyed.pseudonymise("192.0.2.1")
    assert not any(raw in "".join(stored_text(store)) for raw in ("2001:db8", "10.0.0.1", "alice"))
    [event] = store.audit.events("config.change")
    assert (event["subject"], event["details"], event["actor"]) == (
        "pseudonymise",
        {"old": None, "new": True},
        "entities-test",
    )


def test_without_the_key_a_pseudonymising_store_refuses_and_nothing_is_written(store, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    switch_on(store)
    monkeypatch.delenv(KEY_ENV)
    with pytest.raises(ConfigError) as refused:
        store.add_batch(RUN, with_entities([1], [CONNECTION]), [], rows_read=1)
    assert str(refused.value) == KEY_MISSING
    assert count(store, "alerts") == 0 and store.run(RUN).rows_read == 0
    with pytest.raises(ConfigError, match=KEY_ENV):
        store.pseudonymiser()  # what detect and watch ask before they write anything


@pytest.mark.parametrize(
    "text, expected",
    [
        (
            '{"src_ip": "10.0.0.1", "user": "bob"}',  # the service, before
            AlertEntities(src_ip="10.0.0.1", user="bob"),
        ),
        (
            '{"ts": 1700000000.25, "uid": "C1", "src_ip": "10.0.0.2", "src_port": 80, '
            '"dst_ip": "fe80::1", "dst_port": 443, "proto": "tcp"}',  # detect and watch, before
            AlertEntities(
                ts=1700000000.25,
                uid="C1",
                src_ip="10.0.0.2",
                src_port=80,
                dst_ip="fe80::1",
                dst_port=443,
                proto="tcp",
            ),
        ),
        ('{"ts": "1700000000.5", "src_port": "80"}', AlertEntities(ts=1700000000.5, src_port=80)),
        (
            '{"src_ip":"hmac:0123456789abcdef0123456789abcdef"}',
            AlertEntities(src_ip="hmac:0123456789abcdef0123456789abcdef"),
        ),
        ("{}", None),
        ("", None),
        (None, None),
    ],
)
def test_what_older_versions_stored_still_reads_with_types(text, expected):
    assert decode(text, "a-1") == expected


@pytest.mark.parametrize(
    "text, why",
    [
        ('{"hostname": "db-1"}', "no entity field 'hostname'"),
        ('{"src_port": "http"}', "invalid literal"),
        ('{"src_port": 70000}', "a whole number from 0 to 65535"),
        ("[1, 2]", "a JSON object"),
        ("{not json", "Expecting"),
    ],
)
def test_stored_text_that_is_not_entities_is_a_store_error_naming_the_alert(text, why):
    with pytest.raises(StoreError, match=why) as refused:
        decode(text, "a-9")
    assert str(refused.value).startswith("alert a-9: stored entities")


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("ts", -1.0, "seconds since the Unix epoch"),
        ("ts", float("inf"), "year 9999"),
        ("ts", 1e12, "year 9999"),
        ("ts", True, "seconds since"),
        ("src_port", 65536, "0 to 65535"),
        ("dst_port", -1, "0 to 65535"),
        ("dst_port", 22.0, "a whole number"),
        ("proto", "", "non-empty text"),
        ("uid", "x" * (MAX_ENTITY_TEXT + 1), f"at most {MAX_ENTITY_TEXT}"),
        ("user", "u" * (MAX_ENTITY_TEXT + 1), f"at most {MAX_ENTITY_TEXT}"),
        ("src_ip", "10.0.0.256", "an IPv4 or IPv6 address"),
    ],
)
def test_a_bad_entity_value_names_the_field_and_what_was_expected(field, value, expected):
    with pytest.raises(DataError, match=expected) as refused:
        AlertEntities(**{field: value})
    assert field in str(refused.value)


texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12).filter(
    lambda t: not t.isspace()
)
records = st.builds(
    AlertEntities,
    ts=st.none() | st.floats(0, MAX_TS, allow_nan=False),
    uid=st.none() | texts,
    src_ip=st.none() | st.ip_addresses().map(str),
    src_port=st.none() | st.integers(0, 65_535),
    dst_ip=st.none() | st.ip_addresses().map(str),
    dst_port=st.none() | st.integers(0, 65_535),
    proto=st.none() | texts,
    user=st.none() | texts,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.none() | records, min_size=1, max_size=8), st.booleans())
def test_the_column_encoding_is_canonical_json_of_each_record(given_records, pseudonymise):
    """The store encodes whole columns at once; row by row it must be exactly
    canonical(AlertEntities(...).as_dict()) (identities pseudonymised), NULL when empty."""
    keyed = Pseudonymiser(bytes(range(32))) if pseudonymise else None
    frame = pd.DataFrame(
        [{} if r is None else r.as_dict() for r in given_records], columns=list(ENTITY_FIELDS)
    )
    stored = encode_column(entity_column(frame, np.arange(len(frame))), len(frame), keyed)
    expected = []
    for record in given_records:
        if record is not None and keyed is not None:
            record = record.pseudonymised(keyed)
        expected.append(None if record is None or record.empty else canonical(record.as_dict()))
    assert stored.to_pylist() == expected
    assert [decode(text) for text in expected] == [
        None if r is None or r.empty else (r.pseudonymised(keyed) if keyed else r)
        for r in given_records
    ]


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("dst_port", 70_000, "a whole number from 0 to 65535; got 70000"),
        ("ts", float("inf"), r"year 9999\); got inf"),
        ("src_ip", "10.0.0.300", "got '10.0.0.300'"),
        ("uid", " ", "non-empty text"),
    ],
)
def test_a_bad_value_in_a_writers_column_is_refused_naming_the_field(store, field, value, expected):
    column = entity_column(pd.DataFrame({field: [value]}), np.arange(1))
    with pytest.raises(DataError, match=expected) as refused:
        store.add_batch(RUN, alerts_table([1]).append_column("entities", column), [], rows_read=1)
    assert field in str(refused.value) and count(store, "alerts") == 0


def test_nan_in_an_arrow_column_is_refused_not_stored(store):
    column = pa.array([{"ts": float("nan")}], ENTITY_TYPE)  # pandas would have made it NULL
    with pytest.raises(DataError, match="entity field ts: .*got nan"):
        store.insert_alerts(alerts_table([1]).append_column("entities", column))
    assert count(store, "alerts") == 0
