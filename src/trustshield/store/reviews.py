"""EDGE: the analysts' review queue.

Records the policy puts in the abstain band (action ``review``) enter the queue when they
are stored, whoever writes them (``POST /v1/score``, ``detect``, ``watch``: see
:meth:`AlertStore.insert_alerts <trustshield.store.alerts.AlertStore.insert_alerts>`); analysts can also pick any alert into it. An analyst closes an item as
``confirmed`` (the record was an attack) or ``dismissed`` (it was not), with a comment.
Picks and outcomes are audited (``review.queue``, ``review.decide``); closed items are
exported as labelled feedback for the next training run (``review.export``).
"""

from __future__ import annotations

from datetime import datetime, timezone

from trustshield.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    alert_id VARCHAR PRIMARY KEY, model_id VARCHAR, status VARCHAR, reason VARCHAR,
    queued_at TIMESTAMPTZ, queued_by VARCHAR, comment VARCHAR, reviewed_by VARCHAR,
    reviewed_at TIMESTAMPTZ);
"""
STATUSES = ("open", "confirmed", "dismissed")
OUTCOMES = ("confirmed", "dismissed")
ABSTAIN_REASON = "abstain band"
CHUNK = 5_000  # rows per INSERT: PostgreSQL takes at most 65,535 parameters in one statement
COLUMNS = (
    "alert_id",
    "model_id",
    "status",
    "reason",
    "queued_at",
    "queued_by",
    "comment",
    "reviewed_by",
    "reviewed_at",
)


class ReviewQueue:
    """Queue operations on an :class:`~trustshield.store.AlertStore`."""

    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA.strip().rstrip(";"))

    def enqueue_abstained(self, alert_ids, model_id: str) -> None:
        """Queue new alerts of the abstain band, just stored by the caller's transaction
        (which audits the batch as a whole); an id already queued violates the key."""
        alert_ids = list(alert_ids)
        now = _now()
        for start in range(0, len(alert_ids), CHUNK):
            part = alert_ids[start : start + CHUNK]
            values = ", ".join(["(?, ?, 'open', ?, ?, ?)"] * len(part))
            self.store.db.execute(  # one statement, no conflict clause: each costs ms in DuckDB
                "INSERT INTO reviews (alert_id, model_id, status, reason, queued_at, queued_by)"
                f" VALUES {values}",
                [v for a in part for v in (a, model_id, ABSTAIN_REASON, now, self.store.actor)],
            )

    def pick(self, alert_id: str, note: str) -> dict:
        """An analyst puts an alert in the queue; audited as ``review.queue``."""
        with self.store.transaction():
            alert = self.store.db.execute(
                "SELECT model_id FROM alerts WHERE alert_id = ?", [alert_id]
            ).fetchone()
            if alert is None:
                raise StoreError(f"no alert with id {alert_id!r}")
            if self.item(alert_id) is not None:
                raise StoreError(f"alert {alert_id} is already in the review queue")
            self.store.db.execute(
                "INSERT INTO reviews (alert_id, model_id, status, reason, queued_at, queued_by)"
                " VALUES (?, ?, 'open', ?, ?, ?)",
                [
                    alert_id,
                    alert[0],
                    note.strip() or "picked by an analyst",
                    _now(),
                    self.store.actor,
                ],
            )
            self.store.record_event("review.queue", alert_id, {"note": note.strip()})
        return self._queued(alert_id)

    def decide(self, alert_id: str, outcome: str, comment: str) -> dict:
        """Close an item as confirmed or dismissed (an alert not yet queued is queued and
        closed at once); audited as ``review.decide``."""
        if outcome not in OUTCOMES:
            raise StoreError(f"outcome must be one of {list(OUTCOMES)}, got {outcome!r}")
        with self.store.transaction():
            if self.item(alert_id) is None:
                self.pick(alert_id, "reviewed directly")
            self.store.db.execute(
                "UPDATE reviews SET status = ?, comment = ?, reviewed_by = ?, reviewed_at = ?"
                " WHERE alert_id = ?",
                [outcome, comment, self.store.actor, _now(), alert_id],
            )
            self.store.record_event(
                "review.decide", alert_id, {"outcome": outcome, "comment": comment}
            )
        return self._queued(alert_id)

    def _queued(self, alert_id: str) -> dict:
        """The item just written for ``alert_id``; StoreError if it is not there."""
        item = self.item(alert_id)
        if item is None:
            raise StoreError(f"alert {alert_id} is not in the review queue after writing it")
        return item

    def item(self, alert_id: str) -> dict | None:
        row = self.store.db.execute(
            f"SELECT {', '.join(COLUMNS)} FROM reviews WHERE alert_id = ?", [alert_id]
        ).fetchone()
        return None if row is None else dict(zip(COLUMNS, row))

    def items(self, *, status: str | None = "open", limit: int = 50, offset: int = 0) -> list[dict]:
        """Queue items, oldest first (those queued together in their input's line order,
        not by id as text); ``status`` None for every status."""
        if status is not None and status not in STATUSES:
            raise StoreError(f"status must be one of {list(STATUSES)}, got {status!r}")
        where = " WHERE r.status = ?" if status else ""
        columns = ", ".join(f"r.{c}" for c in COLUMNS)
        rows = self.store.db.execute(  # items queued together: in their records' order
            f"SELECT {columns} FROM reviews r LEFT JOIN alerts a ON a.alert_id = r.alert_id"
            f"{where} ORDER BY r.queued_at, a.source_sha256, a.line, r.alert_id"
            f" LIMIT {int(limit)} OFFSET {int(offset)}",
            [status] if status else [],
        ).fetchall()
        return [dict(zip(COLUMNS, row)) for row in rows]

    def feedback(self) -> list[dict]:
        """Closed items with what training needs: the model, the alert's encoded feature
        values and the analyst's label (``confirmed`` → attack, ``dismissed`` → normal).
        The export is audited as ``review.export``."""
        rows = self.store.db.execute(
            "SELECT r.alert_id, r.model_id, r.status, r.comment, r.reviewed_by, r.reviewed_at,"
            " a.category, a.feature_values FROM reviews r JOIN alerts a USING (alert_id)"
            " WHERE r.status <> 'open' ORDER BY r.reviewed_at, r.alert_id"
        ).fetchall()
        items = [
            {
                "alert_id": r[0],
                "model_id": r[1],
                "outcome": r[2],
                "comment": r[3],
                "reviewed_by": r[4],
                "reviewed_at": r[5],
                "category": r[6],
                "feature_values": list(r[7]) if r[7] is not None else None,
            }
            for r in rows
        ]
        self.store.record_event("review.export", "reviews", {"items": len(items)})
        return items


def _now() -> datetime:
    return datetime.now(timezone.utc)
