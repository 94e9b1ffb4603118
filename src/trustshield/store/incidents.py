"""EDGE: incidents (host behaviour grouped by :mod:`trustshield.incidents.grouping`) in the
store, with their evidence flows, and the analysts' review of them.

Tables (same SQL on DuckDB and PostgreSQL):

- ``incidents``: one row per incident. ``incident_id`` is :func:`stored_id` (model id, host
  and first evidence time), so detecting the same input with the same model again adds
  nothing. ``techniques``, ``behaviours`` (each with its channel, evidence in words,
  detector, suspicion and exact attributions), ``evidence_uids``, ``attributions`` (of the
  behaviour that raised it, with ``base``: they sum exactly to ``suspicion``), ``timeline``
  and ``histograms`` (:mod:`trustshield.incidents.evidence`) are JSON text; times are UTC.
  ``status`` is ``open``, ``confirmed`` (an attack) or ``dismissed`` (not one).
- ``incident_flows``: the evidence flows of each incident (uid, ts in s since the epoch,
  responder, state, behaviour).

Audit events, in the transaction of the change: ``incident.raise`` per new incident,
``incident.review`` per decision, ``incident.labels`` when outcomes are read for training.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

from trustshield.errors import StoreError
from trustshield.incidents.evidence import IncidentEvidence
from trustshield.incidents.grouping import Incident, incident_record
from trustshield.store.database import records
from trustshield.store.where import Where

SCHEMA = """
CREATE TABLE IF NOT EXISTS incidents (
    incident_id VARCHAR PRIMARY KEY, model_id VARCHAR, source VARCHAR, host VARCHAR,
    first_seen TIMESTAMPTZ, last_seen TIMESTAMPTZ, raised_at TIMESTAMPTZ, severity VARCHAR,
    severity_rank INTEGER, techniques VARCHAR, behaviours VARCHAR, evidence_uids VARCHAR,
    n_evidence BIGINT, detector VARCHAR, suspicion DOUBLE PRECISION, base DOUBLE PRECISION,
    attributions VARCHAR, timeline VARCHAR, histograms VARCHAR, status VARCHAR,
    comment VARCHAR, reviewed_by VARCHAR, reviewed_at TIMESTAMPTZ, created_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS incident_flows (
    incident_id VARCHAR, uid VARCHAR, ts DOUBLE PRECISION, dst VARCHAR, dport INTEGER,
    proto VARCHAR, conn_state VARCHAR, behaviour VARCHAR);
"""
SEVERITY_RANK = {"high": 3, "medium": 2, "low": 1}
STATUSES = ("open", "confirmed", "dismissed")
OUTCOMES = ("confirmed", "dismissed")
JSON_COLUMNS = (
    "techniques",
    "behaviours",
    "evidence_uids",
    "attributions",
    "timeline",
    "histograms",
)
SUMMARY = (
    "incident_id",
    "model_id",
    "host",
    "first_seen",
    "last_seen",
    "raised_at",
    "severity",
    "techniques",
    "behaviours",
    "n_evidence",
    "detector",
    "suspicion",
    "status",
)
FLOW_COLUMNS = ("uid", "ts", "dst", "dport", "proto", "conn_state", "behaviour")


def stored_id(model_id: str, incident: Incident) -> str:
    """Deterministic id: the same host and first evidence time under the same model."""
    key = f"{model_id}|{incident.host}|{incident.first_seen!r}"
    return hashlib.sha256(key.encode()).hexdigest()[:20]


@dataclass(frozen=True)
class IncidentFilter:
    """What the incident list keeps: every given field must match (``since``/``until``
    on ``last_seen``/``first_seen``: incidents active in that span)."""

    severity: str | None = None
    status: str | None = None
    host: str | None = None
    technique: str | None = None
    model_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ReviewedIncident:
    """An analyst's outcome for one incident: its evidence flow uids are attacks
    (``confirmed``) or not (``dismissed``)."""

    incident_id: str
    model_id: str
    host: str
    outcome: str
    evidence_uids: tuple[str, ...]


class IncidentTable:
    """Incidents of one :class:`~trustshield.store.AlertStore` (``store.incidents``)."""

    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA)

    def add(
        self,
        model_id: str,
        source: str,
        found: Sequence[tuple[Incident, IncidentEvidence]],
    ) -> list[str]:
        """Store each (incident, its evidence) not stored before, with its evidence flows,
        and audit it as ``incident.raise``, all in one transaction; the ids added.
        StoreError, nothing written, when the store pseudonymises identities: incidents
        hold addresses as detected and are not pseudonymised yet."""
        from trustshield.store.entities import pseudonymising

        if found and pseudonymising(self.store):
            raise StoreError(
                f"{self.store.path} pseudonymises identities; incidents (host and "
                "destination addresses) are not pseudonymised yet, so none are stored there"
            )
        added = []
        with self.store.transaction():
            for incident, evidence in found:
                key = stored_id(model_id, incident)
                if self._exists(key):
                    continue
                self._insert(key, model_id, source, incident, evidence)
                self.store.record_event(
                    "incident.raise",
                    key,
                    {
                        "model_id": model_id,
                        "host": incident.host,
                        "severity": incident.severity,
                        "techniques": list(incident.techniques),
                        "behaviours": [b.name for b in incident.behaviours],
                        "evidence_flows": len(incident.evidence_uids),
                        "source": source,
                    },
                )
                added.append(key)
        return added

    def _exists(self, key: str) -> bool:
        return (
            self.store.db.execute("SELECT 1 FROM incidents WHERE incident_id = ?", [key]).fetchone()
            is not None
        )

    def _insert(self, key, model_id, source, incident: Incident, evidence: IncidentEvidence):
        record = incident_record(incident)
        row = {
            "incident_id": key,
            "model_id": model_id,
            "source": source,
            "host": incident.host,
            "first_seen": _moment(incident.first_seen),
            "last_seen": _moment(incident.last_seen),
            "raised_at": _moment(incident.raised_at),
            "severity": incident.severity,
            "severity_rank": SEVERITY_RANK.get(incident.severity, 0),
            "techniques": json.dumps(list(incident.techniques)),
            "behaviours": json.dumps(record["behaviours"], ensure_ascii=False),
            "evidence_uids": json.dumps(list(incident.evidence_uids)),
            "n_evidence": len(incident.evidence_uids),
            "detector": incident.detector,
            "suspicion": float(incident.suspicion),
            "base": float(incident.base),
            "attributions": json.dumps(dict(incident.attributions)),
            "timeline": json.dumps(
                {
                    "start": evidence.timeline.start,
                    "width_s": evidence.timeline.width_s,
                    "total": list(evidence.timeline.total),
                    "evidence": list(evidence.timeline.evidence),
                }
            ),
            "histograms": json.dumps(
                [
                    {
                        "behaviour": h.behaviour,
                        "channel": h.channel,
                        "edges": list(h.edges),
                        "counts": list(h.counts),
                        "median_s": h.median_s,
                    }
                    for h in evidence.histograms
                ]
            ),
            "status": "open",
            "comment": None,
            "reviewed_by": None,
            "reviewed_at": None,
            "created_at": _now(),
        }
        names = list(row)
        self.store.db.execute(
            f"INSERT INTO incidents ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [row[n] for n in names],
        )
        if evidence.flows:
            flows = evidence.flows
            table = pa.table(
                {
                    "incident_id": pa.array([key] * len(flows), pa.string()),
                    "uid": pa.array([f.uid for f in flows], pa.string()),
                    "ts": pa.array([f.ts for f in flows], pa.float64()),
                    "dst": pa.array([f.dst for f in flows], pa.string()),
                    "dport": pa.array([f.dport for f in flows], pa.int32()),
                    "proto": pa.array([f.proto for f in flows], pa.string()),
                    "conn_state": pa.array([f.conn_state for f in flows], pa.string()),
                    "behaviour": pa.array([f.behaviour for f in flows], pa.string()),
                }
            )
            self.store.db.insert_arrow("incident_flows", table)

    def page(
        self, where: IncidentFilter = IncidentFilter(), *, limit: int = 50, offset: int = 0
    ) -> tuple[list[dict], int]:
        """(incidents matching ``where``, most severe first, then newest first (by first
        evidence time), then by id; how many match)."""
        clause, params = _where(where)
        total = self.store.db.execute(f"SELECT count(*) FROM incidents{clause}", params)
        count = int(total.fetchone()[0])
        rows = records(
            self.store.db.execute(
                f"SELECT {', '.join(SUMMARY)} FROM incidents{clause}"
                " ORDER BY severity_rank DESC, first_seen DESC, incident_id"
                f" LIMIT {int(limit)} OFFSET {int(offset)}",
                params,
            )
        )
        return [_parsed(r) for r in rows], count

    def counts(self) -> dict[str, dict[str, int]]:
        """{"severity": {severity: incidents}, "status": {status: incidents}}."""
        out: dict[str, dict[str, int]] = {}
        for column in ("severity", "status"):
            rows = self.store.db.execute(
                f"SELECT {column}, count(*) FROM incidents GROUP BY {column} ORDER BY {column}"
            ).fetchall()
            out[column] = {str(value): int(n) for value, n in rows}
        return out

    def get(self, incident_id: str) -> dict:
        """One incident, JSON columns parsed; StoreError when unknown."""
        rows = records(
            self.store.db.execute("SELECT * FROM incidents WHERE incident_id = ?", [incident_id])
        )
        if not rows:
            raise StoreError(f"no incident with id {incident_id!r} in {self.store.path}")
        return _parsed(rows[0])

    def flows(self, incident_id: str, *, limit: int = 100, offset: int = 0) -> list[dict]:
        """The incident's evidence flows in time order (then uid)."""
        return records(
            self.store.db.execute(
                f"SELECT {', '.join(FLOW_COLUMNS)} FROM incident_flows WHERE incident_id = ?"
                f" ORDER BY ts, uid LIMIT {int(limit)} OFFSET {int(offset)}",
                [incident_id],
            )
        )

    def flow_count(self, incident_id: str) -> int:
        return int(
            self.store.db.execute(
                "SELECT count(*) FROM incident_flows WHERE incident_id = ?", [incident_id]
            ).fetchone()[0]
        )

    def decide(self, incident_id: str, outcome: str, comment: str) -> dict:
        """Close an incident as confirmed or dismissed (a later decision replaces an
        earlier one); audited as ``incident.review``. StoreError for an unknown incident or
        outcome."""
        if outcome not in OUTCOMES:
            raise StoreError(f"outcome must be one of {list(OUTCOMES)}, got {outcome!r}")
        with self.store.transaction():
            before = self.get(incident_id)
            self.store.db.execute(
                "UPDATE incidents SET status = ?, comment = ?, reviewed_by = ?, reviewed_at = ?"
                " WHERE incident_id = ?",
                [outcome, comment, self.store.actor, _now(), incident_id],
            )
            self.store.record_event(
                "incident.review",
                incident_id,
                {"outcome": outcome, "comment": comment, "previous": before["status"]},
            )
        return self.get(incident_id)

    def reviewed(self, model_id: str | None = None) -> list[ReviewedIncident]:
        """Reviewed incidents (of ``model_id`` when given) with their evidence uids and
        outcome, oldest review first: labels for the next training run. Audited as
        ``incident.labels``."""
        sql = (
            "SELECT incident_id, model_id, host, status, evidence_uids FROM incidents"
            " WHERE status <> 'open'"
        )
        params = []
        if model_id is not None:
            sql += " AND model_id = ?"
            params.append(model_id)
        rows = self.store.db.execute(sql + " ORDER BY reviewed_at, incident_id", params)
        found = [
            ReviewedIncident(r[0], r[1], r[2], r[3], tuple(json.loads(r[4])))
            for r in rows.fetchall()
        ]
        self.store.record_event(
            "incident.labels",
            "incidents",
            {
                "incidents": len(found),
                "confirmed": sum(r.outcome == "confirmed" for r in found),
                "dismissed": sum(r.outcome == "dismissed" for r in found),
            },
        )
        return found


def export_record(row: dict) -> dict:
    """A stored incident as one JSON line of ``incidents export`` (times ISO 8601 UTC)."""
    return {
        "incident_id": row["incident_id"],
        "model_id": row["model_id"],
        "host": row["host"],
        "first_seen": _iso(row["first_seen"]),
        "last_seen": _iso(row["last_seen"]),
        "raised_at": _iso(row["raised_at"]),
        "severity": row["severity"],
        "techniques": row["techniques"],
        "behaviours": row["behaviours"],
        "evidence_uids": row["evidence_uids"],
        "raised_by": {
            "detector": row["detector"],
            "suspicion": row["suspicion"],
            "attributions": {"base": row["base"], **row["attributions"]},
        },
        "status": row["status"],
        "comment": row["comment"],
        "reviewed_by": row["reviewed_by"],
        "reviewed_at": None if row["reviewed_at"] is None else _iso(row["reviewed_at"]),
    }


def _where(where: IncidentFilter) -> tuple[str, list]:
    clause = Where()
    clause.equal(where, ("severity", "status", "host", "model_id"))
    if where.technique is not None:  # the JSON list holds it as a quoted string
        clause.add("techniques LIKE ?", f'%"{where.technique}"%')
    if where.since is not None:
        clause.add("last_seen >= ?", where.since)
    if where.until is not None:
        clause.add("first_seen < ?", where.until)
    return clause.sql(), clause.params


def _parsed(row: dict) -> dict:
    for column in JSON_COLUMNS:
        if column in row and isinstance(row[column], str):
            row[column] = json.loads(row[column])
    return row


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(float(seconds), tz=timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(timezone.utc)
