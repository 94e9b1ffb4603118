"""Incidents in the store (DuckDB and PostgreSQL): idempotent, with evidence flows, exact
attributions, audited reviews and the reviewed outcomes as training labels."""

from __future__ import annotations

import pytest

from incident_samples import HOST, sample
from trustshield.errors import StoreError
from trustshield.store import AlertStore
from trustshield.store.incidents import IncidentFilter, export_record, stored_id

MODEL = "beh0123456789abc"


def _actions(store) -> list[str]:
    return [e["action"] for e in store.audit.events()]


def test_adding_twice_stores_once_and_audits_each_new_incident(store_target):
    first = sample()
    second = sample(host="10.0.0.7", start=first[0].first_seen + 7200, severity="high")
    with AlertStore(store_target, actor="detector") as store:
        added = store.incidents.add(MODEL, "conn.log", [first[:2], second[:2]])
        again = store.incidents.add(MODEL, "conn.log", [first[:2], second[:2]])
        assert added == [stored_id(MODEL, first[0]), stored_id(MODEL, second[0])]
        assert again == []
        assert _actions(store).count("incident.raise") == 2
        rows, total = store.incidents.page()
        assert total == 2
        assert [r["severity"] for r in rows] == ["high", "medium"]  # most severe first
        other = store.incidents.add("another-model", "conn.log", [first[:2]])
        assert len(other) == 1 and other[0] != added[0]


def test_an_incident_keeps_its_evidence_uids_flows_and_exact_attributions(store_target):
    incident, evidence, frame = sample()
    with AlertStore(store_target) as store:
        (key,) = store.incidents.add(MODEL, "conn.log", [(incident, evidence)])
        row = store.incidents.get(key)
        flows = store.incidents.flows(key, limit=1000)
    assert tuple(row["evidence_uids"]) == incident.evidence_uids
    assert row["attributions"] == dict(incident.attributions)
    assert row["base"] + sum(row["attributions"].values()) == pytest.approx(row["suspicion"])
    assert row["behaviours"][0]["attributions"]["beacon_score"] == 0.5
    assert sorted(f["uid"] for f in flows) == sorted(incident.evidence_uids)
    assert [f["ts"] for f in flows] == sorted(f["ts"] for f in flows)
    assert {f["behaviour"] for f in flows} == {"beacon"}
    assert sum(row["timeline"]["evidence"]) == len(incident.evidence_uids)
    assert sum(row["timeline"]["total"]) > sum(row["timeline"]["evidence"])
    (histogram,) = row["histograms"]
    assert sum(histogram["counts"]) == len(incident.evidence_uids) - 1
    assert histogram["median_s"] == pytest.approx(30.0, rel=0.1)
    line = export_record(row)
    assert line["host"] == HOST and line["evidence_uids"] == list(incident.evidence_uids)
    assert line["first_seen"].endswith("Z")


def test_filters_and_unknown_incident(store_target):
    a, b = sample(), sample(host="10.0.0.7", severity="high")
    with AlertStore(store_target) as store:
        store.incidents.add(MODEL, "conn.log", [a[:2], b[:2]])
        assert store.incidents.page(IncidentFilter(host="10.0.0.7"))[1] == 1
        assert store.incidents.page(IncidentFilter(severity="low"))[1] == 0
        assert store.incidents.page(IncidentFilter(technique="T1571"))[1] == 2
        assert store.incidents.page(IncidentFilter(technique="T1046"))[1] == 0
        with pytest.raises(StoreError, match="no incident"):
            store.incidents.get("nope")


def test_reviews_are_audited_and_become_labels(store_target):
    a, b = sample(), sample(host="10.0.0.7")
    with AlertStore(store_target, actor="analyst-1") as store:
        ka, kb = store.incidents.add(MODEL, "conn.log", [a[:2], b[:2]])
        assert store.incidents.reviewed() == []
        done = store.incidents.decide(ka, "confirmed", "C&C on 6667")
        assert done["status"] == "confirmed" and done["reviewed_by"] == "analyst-1"
        store.incidents.decide(kb, "dismissed", "a known updater")
        with pytest.raises(StoreError, match="outcome"):
            store.incidents.decide(ka, "maybe", "")
        labels = {r.incident_id: r for r in store.incidents.reviewed(MODEL)}
        assert labels[ka].outcome == "confirmed"
        assert labels[ka].evidence_uids == a[0].evidence_uids
        assert labels[kb].outcome == "dismissed"
        assert store.incidents.page(IncidentFilter(status="open"))[1] == 0
        events = [e for e in store.audit.events() if e["action"] == "incident.review"]
        assert [e["subject"] for e in events] == [ka, kb]
        assert "incident.labels" in _actions(store)
        assert store.audit.verify() is None


def test_a_pseudonymising_store_refuses_incidents_rather_than_keep_addresses(tmp_path, monkeypatch):
    from trustshield.store.entities import switch_on

    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", "ab" * 32)
    with AlertStore(tmp_path / "s.duckdb") as store:
        switch_on(store)
        with pytest.raises(StoreError, match="pseudonymises"):
            store.incidents.add(MODEL, "conn.log", [sample()[:2]])
        assert store.incidents.page()[1] == 0
