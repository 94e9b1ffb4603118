"""EDGE: tokens the service throttles, kept in the store so a throttle survives restarts.

``token_throttles`` holds one row per throttled API token: why (the probing monitor's
reasons and statistics, JSON) and when. A row is written by :meth:`ThrottleTable.flag` in
the transaction of its ``abuse.flagged`` audit event and removed by
:meth:`ThrottleTable.lift` in the transaction of its ``abuse.lift`` event, so the table and
the audit log always agree.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

from trustshield.errors import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS token_throttles (
    token_id VARCHAR PRIMARY KEY, flagged_at TIMESTAMPTZ, flagged_by VARCHAR, details VARCHAR);
"""
NOT_THROTTLED = "token {token_id!r} is not throttled; GET /v1/abuse lists the throttled ones"


class ThrottleTable:
    """Throttled tokens of an :class:`~trustshield.store.AlertStore`."""

    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA)

    def flag(self, token_id: str, details: dict) -> bool:
        """Throttle ``token_id`` and audit ``abuse.flagged`` with ``details`` (JSON-ready),
        in one transaction; False (and nothing written) when it is throttled already."""
        with self.store.transaction():
            if self._row(token_id) is not None:
                return False
            self.store.db.execute(
                "INSERT INTO token_throttles VALUES (?, ?, ?, ?)",
                [token_id, _now(), self.store.actor, json.dumps(details, sort_keys=True)],
            )
            self.store.record_event("abuse.flagged", token_id, details)
        return True

    def lift(self, token_id: str, reason: str) -> dict:
        """End the throttle of ``token_id`` and audit ``abuse.lift`` (with ``reason`` and
        what the flag held), in one transaction; StoreError when it is not throttled."""
        with self.store.transaction():
            row = self._row(token_id)
            if row is None:
                raise StoreError(NOT_THROTTLED.format(token_id=token_id))
            self.store.db.execute("DELETE FROM token_throttles WHERE token_id = ?", [token_id])
            lifted = {"flagged_at": str(row[0]), "flagged": json.loads(row[1]), "reason": reason}
            self.store.record_event("abuse.lift", token_id, lifted)
        return lifted

    def active(self) -> list[str]:
        """Ids of the throttled tokens, oldest flag first."""
        rows = self.store.db.execute(
            "SELECT token_id FROM token_throttles ORDER BY flagged_at, token_id"
        ).fetchall()
        return [r[0] for r in rows]

    def _row(self, token_id: str):
        return self.store.db.execute(
            "SELECT flagged_at, details FROM token_throttles WHERE token_id = ?", [token_id]
        ).fetchone()


def _now() -> datetime:
    return datetime.now(timezone.utc)
