"""alerts list / export: every format parsed by its consuming library (json, csv, stix2),
every ECS field checked against the ECS types, filters, chunking, atomic files, both
databases."""

from __future__ import annotations

import csv
import io
import ipaddress
import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import stix2

from trustshield.cli import main
from trustshield.errors import DataError
from trustshield.exports.ecs import CUSTOM_FIELDS, ECS_FIELDS, ecs_document
from trustshield.exports.query import AlertQuery, read_chunks
from trustshield.exports.writing import export
from trustshield.pipeline.detect import entity_column
from trustshield.store import AlertStore, alert_id

FEATURES = ["duration", "src_bytes", "dst_bytes", "count"]
MODEL = "m" * 64
SHA = "s" * 64
PSEUDONYM = "hmac:" + "ab" * 16
T0 = 1_714_550_400.0  # 2024-05-01T08:00:00Z
#: (action, technique, category, entities) per alert, in line order
ALERTS = [
    ("alert", "T1498", "dos", {"ts": T0 + 60, "src_ip": "192.0.2.10", "src_port": 40000,
                               "dst_ip": "198.51.100.7", "dst_port": 80, "proto": "tcp",
                               "uid": "Cabc1"}),
    ("review", "T1046", "probe", {"ts": T0 + 30, "src_ip": "2001:db8::5", "dst_ip": "2001:db8::9",
                                  "dst_port": 22, "proto": "TCP"}),
    ("alert", "T1110.001", "r2l", {"ts": T0 + 3600, "src_ip": PSEUDONYM, "dst_ip": "192.0.2.10",
                                   "user": "=HYPERLINK(\"x\")"}),
    ("alert", "", "anomaly", None),
    ("alert", "T1498", "dos", {"ts": T0 + 7200, "src_ip": "192.0.2.11", "dst_ip": "198.51.100.7",
                               "user": PSEUDONYM, "proto": "udp"}),
]  # fmt: skip


def alerts_table(run_id: str, rows=ALERTS, first_line: int = 2) -> pa.Table:
    rng = np.random.default_rng(len(run_id))
    n = len(rows)
    values = rng.normal(0, 0.2, size=(n, len(FEATURES)))
    base = np.full(n, 0.3)
    lines = np.arange(first_line, first_line + n)
    frame = pd.DataFrame([r[3] or {} for r in rows])
    return pa.table(
        {
            "alert_id": [alert_id(MODEL, SHA, int(x)) + run_id for x in lines],
            "run_id": [run_id] * n,
            "model_id": [MODEL] * n,
            "source_sha256": [SHA] * n,
            "line": pa.array(lines, pa.int64()),
            "action": [r[0] for r in rows],
            "suspicion": base + values.sum(axis=1),
            "category": [r[2] for r in rows],
            "technique": [r[1] for r in rows],
            "component": ["supervised"] * n,
            "label": (["neptune"] + [None] * (n - 1))[:n],
            "base": base,
            "attributions": pa.FixedSizeListArray.from_arrays(
                pa.array(values.ravel()), len(FEATURES)
            ),
            "feature_values": pa.FixedSizeListArray.from_arrays(
                pa.array(np.ones(n * len(FEATURES))), len(FEATURES)
            ),
            "rationale": [f"{r[2]}: far from normal traffic" for r in rows],
            "created_at": pa.array([datetime.now(timezone.utc)] * n, pa.timestamp("us", tz="UTC")),
            "entities": entity_column(frame, np.arange(n)),
        }
    )


def fill(target, runs=("run-a",)) -> None:
    manifest = {"model_id": MODEL, "created_at": "2024-05-01T00:00:00+00:00",
                "spec": "nsl-kdd", "detector": "test", "files": {}}  # fmt: skip
    with AlertStore(target, actor="test") as store:
        store.record_model(manifest, [{"name": f, "type": "numeric"} for f in FEATURES])
        for run in runs:
            store.start_run(
                run_id=run, kind="detect", model_id=MODEL, source_path="x", source_sha256=SHA
            )
            store.add_batch(run, alerts_table(run), [], len(ALERTS))
            store.finish_run(run, "finished")


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "alerts.duckdb"
    fill(path)
    return path


def exported(target, fmt: str, query: AlertQuery | None = None, chunk: int = 5000) -> str:
    out = io.BytesIO()
    with AlertStore(target) as store:
        export(store.db, query or AlertQuery(), fmt, out, chunk=chunk)
    return out.getvalue().decode("utf-8")


def leaves(value, prefix=""):
    """(dotted field name, value) of every leaf; list items keep their field's name, and a
    list of objects is walked item by item."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{prefix}.{key}" if prefix else key)
    elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
        for inner in value:
            yield from leaves(inner, prefix)
    else:
        yield prefix, value


def check_type(field: str, kind: str, value) -> None:
    """``value`` is valid for the ECS type ``kind`` (a list: each item is)."""
    for item in value if isinstance(value, list) else [value]:
        if kind in ("keyword", "match_only_text"):
            assert isinstance(item, str) and item, (field, item)
        elif kind == "ip":
            ipaddress.ip_address(item)  # ValueError for anything else
        elif kind == "long":
            assert isinstance(item, int) and not isinstance(item, bool), (field, item)
        elif kind == "float":
            assert isinstance(item, float | int) and not isinstance(item, bool), (field, item)
        elif kind == "date":
            assert datetime.fromisoformat(item).utcoffset() == timedelta(0), (field, item)
        else:
            raise AssertionError(f"{field}: no check for ECS type {kind}")


def test_every_ecs_field_is_an_ecs_field_of_its_type(store_path):
    lines = exported(store_path, "ecs").splitlines()
    assert len(lines) == len(ALERTS)
    types = {**ECS_FIELDS, **CUSTOM_FIELDS}
    seen = set()
    for line in lines:
        doc = json.loads(line)
        for field, value in leaves(doc):
            if field.startswith("labels."):  # labels: an object of keyword values
                assert "labels" in ECS_FIELDS and isinstance(value, str)
                continue
            assert field in types, f"{field} is not an ECS field nor a trustshield.* one"
            assert field in ECS_FIELDS or field.startswith("trustshield."), field
            check_type(field, types[field], value)
            seen.add(field)
        assert doc["event"]["kind"] == "alert"
        assert doc["event"]["category"] == ["network", "intrusion_detection"]
    # the fields the mapping promises are all exercised by these alerts
    for field in ("source.ip", "destination.port", "network.transport", "related.ip",
                  "user.name", "user.hash", "threat.technique.subtechnique.id",
                  "trustshield.top_contributions.contribution", "event.start"):  # fmt: skip
        assert field in seen, field


def test_ecs_maps_times_addresses_and_techniques(store_path):
    docs = {
        d["trustshield"]["line"]: d
        for d in map(json.loads, exported(store_path, "ecs").splitlines())
    }
    first = docs[2]
    assert first["@timestamp"] == "2024-05-01T08:01:00.000000Z" == first["event"]["start"]
    assert first["event"]["created"] != first["@timestamp"]
    assert first["source"] == {"address": "192.0.2.10", "ip": "192.0.2.10", "port": 40000}
    assert first["related"]["ip"] == ["192.0.2.10", "198.51.100.7"]
    assert first["threat"] == {
        "framework": "MITRE ATT&CK",
        "technique": {
            "id": ["T1498"],
            "name": ["Network Denial of Service"],
            "reference": ["https://attack.mitre.org/techniques/T1498/"],
        },
    }
    jsonl = {r["line"]: r for r in map(json.loads, exported(store_path, "jsonl").splitlines())}
    assert first["event"]["risk_score"] == jsonl[2]["suspicion"]
    assert first["event"]["id"] == jsonl[2]["alert_id"] and first["rule"]["id"] == MODEL
    assert first["trustshield"]["attribution_base"] == jsonl[2]["base"]
    assert first["message"] == "dos: far from normal traffic"
    assert first["rule"]["ruleset"] == "nsl-kdd" and first["network"]["transport"] == "tcp"
    assert docs[3]["network"]["transport"] == "tcp"  # written TCP
    assert docs[3]["source"]["ip"] == "2001:db8::5"
    pseudonymised = docs[4]
    assert pseudonymised["source"] == {"address": PSEUDONYM}  # a pseudonym is not an IP
    assert pseudonymised["related"]["ip"] == ["192.0.2.10"]
    assert pseudonymised["threat"]["technique"]["id"] == ["T1110"]
    assert pseudonymised["threat"]["technique"]["subtechnique"]["id"] == ["T1110.001"]
    unknown = docs[5]  # no entities, no technique: stored time, no threat
    assert unknown["@timestamp"] == unknown["event"]["created"]
    assert "threat" not in unknown and "source" not in unknown and "start" not in unknown["event"]
    assert docs[6]["user"] == {"hash": PSEUDONYM}
    top = first["trustshield"]["top_contributions"]
    magnitudes = [abs(c["contribution"]) for c in top]
    assert magnitudes == sorted(magnitudes, reverse=True) and len(top) == len(FEATURES)


def test_jsonl_holds_every_exact_contribution(store_path):
    records = [json.loads(line) for line in exported(store_path, "jsonl").splitlines()]
    assert len(records) == len(ALERTS)
    for record in records:
        assert list(record["contributions"]) == FEATURES
        total = record["base"] + sum(record["contributions"].values())
        assert total == pytest.approx(record["suspicion"], abs=1e-12)
    by_line = {r["line"]: r for r in records}
    assert by_line[2]["entities"]["src_port"] == 40000 and by_line[5]["entities"] == {}
    assert by_line[5]["event_time"] is None and by_line[5]["technique"] is None
    # in event-time order, alerts without one (their stored time is later) last
    assert [r["line"] for r in records] == [3, 2, 4, 6, 5]


def test_csv_parses_and_keeps_formulas_out_of_spreadsheets(store_path):
    rows = list(csv.DictReader(io.StringIO(exported(store_path, "csv"))))
    assert len(rows) == len(ALERTS)
    by_line = {int(r["line"]): r for r in rows}
    assert by_line[4]["user"] == '\'=HYPERLINK("x")'
    assert float(by_line[2]["suspicion"]) == pytest.approx(
        json.loads(exported(store_path, "jsonl").splitlines()[1])["suspicion"]
    )
    assert by_line[2]["src_ip"] == "192.0.2.10" and by_line[2]["dst_port"] == "80"
    assert by_line[2]["event_time"] == "2024-05-01T08:01:00.000000Z"
    assert by_line[2]["top_contributions"].count(":") == len(FEATURES)


def test_stix_bundle_parses_with_sightings_and_attack_references(store_path):
    text = exported(store_path, "stix")
    bundle = stix2.parse(text, allow_custom=True)
    objects = {o.id: o for o in bundle.objects}
    assert len(objects) == len(bundle.objects)  # each object once
    (identity,) = [o for o in objects.values() if o.type == "identity"]
    sightings = [o for o in objects.values() if o.type == "sighting"]
    assert len(sightings) == len(ALERTS)
    by_alert = {s.x_trustshield_line: s for s in sightings}
    for sighting in sightings:
        assert sighting.where_sighted_refs == [identity.id]
        assert objects[sighting.sighting_of_ref].type == "attack-pattern"
        for ref in sighting.get("observed_data_refs", []):
            observed = objects[ref]
            assert all(r in objects for r in observed.object_refs)
    dos = objects[by_alert[2].sighting_of_ref]
    assert dos.name == "Network Denial of Service"
    assert [(r.source_name, r.external_id) for r in dos.external_references] == [
        ("mitre-attack", "T1498")
    ]
    assert by_alert[2].external_references[0].external_id == "T1498"
    assert by_alert[2].first_seen == datetime.fromtimestamp(T0 + 60, timezone.utc)
    assert by_alert[6].sighting_of_ref == by_alert[2].sighting_of_ref  # one pattern per technique
    traffic = [o for o in objects.values() if o.type == "network-traffic"]
    first = objects[objects[by_alert[2].observed_data_refs[0]].object_refs[0]]
    assert first.type == "network-traffic" and first.dst_port == 80 and len(traffic) == 4
    assert objects[first.src_ref].value == "192.0.2.10"
    assert {o.type for o in objects.values()} >= {"ipv4-addr", "ipv6-addr", "observed-data"}
    assert PSEUDONYM not in [o.get("value") for o in objects.values()]
    assert by_alert[4].x_trustshield_src_ip == PSEUDONYM
    assert "observed_data_refs" not in by_alert[5]
    again = stix2.parse(exported(store_path, "stix", chunk=2), allow_custom=True)
    assert {o.id for o in again.objects} == set(objects)  # deterministic ids, any chunking


def test_stix_of_no_alerts_is_a_bundle_with_trustshield_alone(tmp_path):
    path = tmp_path / "empty.duckdb"
    AlertStore(path).close()
    bundle = stix2.parse(exported(path, "stix"), allow_custom=True)
    assert [o.type for o in bundle.objects] == ["identity"]


def test_filters_select_by_run_decision_technique_and_event_time(tmp_path):
    path = tmp_path / "two.duckdb"
    fill(path, runs=("run-a", "run-b"))

    def lines(**given):
        return [
            json.loads(x)["line"] for x in exported(path, "jsonl", AlertQuery(**given)).splitlines()
        ]

    assert len(lines()) == 2 * len(ALERTS)
    assert sorted(lines(run_id="run-b")) == [2, 3, 4, 5, 6]
    assert lines(run_id="run-a", action="review") == [3]
    assert lines(run_id="run-a", technique="T1498") == [2, 6]
    since = datetime.fromtimestamp(T0 + 60, timezone.utc)
    until = datetime.fromtimestamp(T0 + 7200, timezone.utc)
    assert lines(run_id="run-a", since=since, until=until) == [2, 4]  # since <= t < until
    assert len(lines(limit=3)) == 3
    assert lines(run_id="run-a", min_suspicion=10.0) == []


def test_chunks_give_the_same_export(store_path):
    for fmt in ("ecs", "jsonl", "csv"):
        assert exported(store_path, fmt, chunk=2) == exported(store_path, fmt, chunk=5000)


def test_one_alert_is_read_back_typed(store_path):
    with AlertStore(store_path) as store:
        (chunk,) = read_chunks(store.db, AlertQuery(technique="T1046"))
    (alert,) = chunk
    assert alert.event_time == datetime.fromtimestamp(T0 + 30, timezone.utc)
    assert alert.src_ip == "2001:db8::5" and alert.dst_port == 22 and alert.src_port is None
    assert alert.model.feature_names == tuple(FEATURES)
    assert ecs_document(alert)["rule"]["category"] == "probe"


def test_bad_filters_are_refused():
    with pytest.raises(DataError, match="time zone"):
        AlertQuery(since=datetime(2024, 5, 1))  # noqa: DTZ001
    with pytest.raises(DataError, match="action must be one of"):
        AlertQuery(action="allow")


def test_cli_export_writes_atomically_and_list_reads(store_path, tmp_path, capsys):
    out = tmp_path / "alerts.ecs.jsonl"
    assert main(["alerts", "export", "--store", str(store_path), "--format", "ecs",
                 "--out", str(out), "--since", "2024-05-01T08:00:45Z"]) == 0  # fmt: skip
    assert len(out.read_text().splitlines()) == 4  # three with a later event time + no-ts one
    assert "4 alerts written" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    assert main(["alerts", "list", "--store", str(store_path), "--action", "review"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown[0].split("\t")[:3] == ["alert", "time", "action"] and len(shown) == 2
    assert "2001:db8::5" in shown[1]
    assert main(["alerts", "export", "--store", str(store_path), "--format", "stix"]) == 0
    stix2.parse(capsys.readouterr().out, allow_custom=True)


def test_reading_never_creates_a_store(tmp_path, capsys):
    missing = tmp_path / "none.duckdb"
    out = tmp_path / "out.jsonl"
    assert main(["alerts", "export", "--store", str(missing), "--out", str(out)]) == 1
    assert main(["alerts", "list", "--store", str(missing)]) == 1
    assert "no store at" in capsys.readouterr().err
    assert not missing.exists() and not out.exists()


def test_a_failed_export_leaves_the_old_file(store_path, tmp_path, monkeypatch):
    from trustshield.exports import writing

    out = tmp_path / "alerts.jsonl"
    out.write_text("previous\n")

    def broken(alert):
        raise RuntimeError("disk full")

    monkeypatch.setitem(writing.WRITERS, "jsonl", writing._lines(broken))
    with AlertStore(store_path) as store, pytest.raises(RuntimeError):
        writing.export_file(store.db, AlertQuery(), "jsonl", out)
    assert out.read_text() == "previous\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_both_databases_export_alike(store_target, store_path):
    fill(store_target)

    def comparable(target, fmt):
        text = exported(target, fmt)
        if fmt == "stix":
            bundle = stix2.parse(text, allow_custom=True)
            return sorted(o.id for o in bundle.objects if o.type != "observed-data")
        rows = [json.loads(x) for x in text.splitlines()]
        for row in rows:  # stored at different moments; everything else is equal
            row.pop("created_at")
            if row["event_time"] is None:
                row.pop("timestamp")
        return rows

    for fmt in ("jsonl", "stix"):
        assert comparable(store_target, fmt) == comparable(store_path, fmt)


def test_alerts_of_one_batch_without_event_time_list_in_line_order(tmp_path, capsys):
    path = tmp_path / "same-time.duckdb"
    manifest = {"model_id": MODEL, "created_at": "2024-05-01T00:00:00+00:00",
                "spec": "nsl-kdd", "detector": "test", "files": {}}  # fmt: skip
    rows = [ALERTS[3]] * 12  # no entities: no event time, one insert time for all
    with AlertStore(path, actor="test") as store:
        store.record_model(manifest, [{"name": f, "type": "numeric"} for f in FEATURES])
        store.start_run(
            run_id="r", kind="detect", model_id=MODEL, source_path="x", source_sha256=SHA
        )
        table = alerts_table("r", rows, first_line=1)
        store.add_batch("r", table, [], len(rows))
        store.finish_run("r", "finished")
    ids = table.column("alert_id").to_pylist()
    assert ids != sorted(ids)  # the ids' text order is not the line order
    assert main(["alerts", "list", "--store", str(path), "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a["line"] for a in listed] == list(range(1, 13))
