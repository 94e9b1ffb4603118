"""EDGE: the audit log, a hash chain in the store's DuckDB file.

Every state change appends one event: who (``actor``), when (``at``, UTC), what
(``action``, e.g. ``detect.run``, ``model.register``, ``redteam.run``), on what
(``subject``) and the particulars (``details``, canonical JSON). Each event's ``hash`` is
the sha256 of the previous event's hash followed by the canonical JSON of the event::

    hash = sha256(prev_hash + canonical({"seq", "at", "actor", "action", "subject", "details"}))

where ``at`` is ISO-8601 UTC with microseconds and the first event's ``prev_hash`` is 64
zeros. Canonical JSON: keys sorted, no whitespace, UTF-8, no NaN. Changing, removing or
reordering any stored event breaks the chain from that event on; :meth:`AuditLog.verify`
finds the first break. The caller appends inside the transaction that makes the change,
so the change and its record commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np

GENESIS = "0" * 64
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq BIGINT PRIMARY KEY, "at" TIMESTAMPTZ, actor VARCHAR, action VARCHAR, subject VARCHAR,
    details VARCHAR, prev_hash VARCHAR, hash VARCHAR);
"""
COLUMNS = 'seq, epoch_us("at"), actor, action, subject, details, prev_hash, hash'


def plain(value):
    """``value`` with numpy scalars/arrays as Python values, tuples as lists and non-finite
    floats as None, so that it can be written as canonical JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def canonical(value) -> str:
    """Sorted keys, no whitespace, UTF-8 text; NaN and infinities are refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def event_hash(prev_hash: str, event: dict) -> str:
    fields = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


class AuditLog:
    """Append-only events on one DuckDB connection; the caller owns the transaction."""

    def __init__(self, db):
        self.db = db
        self.db.execute(SCHEMA)

    def append(self, *, actor: str, action: str, subject: str, details: dict) -> dict:
        """Add one event after the last; return it (with ``seq`` and ``hash``)."""
        details = plain(details)
        last = self.db.execute(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
        at = datetime.now(timezone.utc)
        event = {"seq": seq, "at": _iso(at), "actor": str(actor), "action": str(action),
                 "subject": str(subject), "details": details}
        event["prev_hash"], event["hash"] = prev, event_hash(prev, event)
        self.db.execute("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [seq, at, event["actor"], event["action"], event["subject"],
                         canonical(details), prev, event["hash"]])
        return event

    def events(self, action: str | None = None, *, subject: str | None = None) -> list[dict]:
        """Events in order, optionally only one action and/or one subject."""
        where, params = [], []
        for column, value in (("action", action), ("subject", subject)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {COLUMNS} FROM audit_events"
        sql += (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        return [_event(row) for row in self.db.execute(sql, params).fetchall()]

    def verify(self) -> int | None:
        """The ``seq`` of the first event whose position, link or hash is wrong; None when
        the whole chain holds."""
        cursor = self.db.execute(f"SELECT {COLUMNS} FROM audit_events ORDER BY seq")
        expected_seq, prev = 1, GENESIS
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                event = _event(row)
                if (event["seq"] != expected_seq or event["prev_hash"] != prev
                        or event_hash(prev, event) != event["hash"]):
                    return event["seq"]
                expected_seq, prev = expected_seq + 1, event["hash"]
        return None


def _event(row) -> dict:
    seq, at_us, actor, action, subject, details, prev_hash, digest = row
    try:
        parsed = json.loads(details)
    except (TypeError, json.JSONDecodeError):
        parsed = details  # a damaged row: verify() reports it, readers still see it
    at = None if at_us is None else _iso(EPOCH + timedelta(microseconds=at_us))
    return {"seq": seq, "at": at, "actor": actor,
            "action": action, "subject": subject, "details": parsed,
            "prev_hash": prev_hash, "hash": digest}


def _iso(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")
