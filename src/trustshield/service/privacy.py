"""Retention of alerts for the service (pseudonyms live in :mod:`trustshield.privacy`).

:func:`apply_retention` deletes alerts created before ``now - days`` (and their
review-queue rows, when the ``reviews`` table exists) in one transaction with the audit event
``retention.delete``; if anything fails, nothing is deleted. Alerts without a
``created_at`` are kept.

The pseudonymiser's names are imported here too, for callers that know them from here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from trustshield.errors import ConfigError, StoreError
from trustshield.privacy import (  # re-exported: see the module docstring
    IDENTITY_FIELDS,  # noqa: F401
    KEY_ENV,  # noqa: F401
    Pseudonymiser,  # noqa: F401
    identity_value,  # noqa: F401
)

BAD_DAYS = "retention days must be a whole number ≥ 1; got {value!r}"
NAIVE_NOW = "now must be a timezone-aware datetime; got {value!r}"
REVIEWS_UNLINKED = "the reviews table has no alert_id column; its columns are {columns}"


def retention_cutoff(now: datetime, days: int) -> datetime:
    """The instant before which alerts are deleted: ``now - days``."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(BAD_DAYS.format(value=days))
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError(NAIVE_NOW.format(value=now))
    return now - timedelta(days=days)


def apply_retention(store, *, days: int, now: datetime) -> dict:
    """Delete alerts created before ``now - days`` and their review rows, audited as
    ``retention.delete`` in the same transaction; return the audit details
    ({"cutoff": ISO-8601, "deleted": alerts, "reviews_deleted": rows, "days": days})."""
    cutoff = retention_cutoff(now, days)
    old = "SELECT alert_id FROM alerts WHERE created_at < ?"
    with store.transaction():
        reviews = 0
        if _has_reviews(store):
            reviews = _count(
                store, f"SELECT count(*) FROM reviews WHERE alert_id IN ({old})", cutoff
            )
            store.db.execute(f"DELETE FROM reviews WHERE alert_id IN ({old})", [cutoff])
        deleted = _count(store, "SELECT count(*) FROM alerts WHERE created_at < ?", cutoff)
        store.db.execute("DELETE FROM alerts WHERE created_at < ?", [cutoff])
        details = {
            "cutoff": cutoff.isoformat(),
            "deleted": deleted,
            "reviews_deleted": reviews,
            "days": days,
        }
        store.record_event("retention.delete", "alerts", details)
    return details


def _has_reviews(store) -> bool:
    """Whether the store's current schema has a ``reviews`` table linked by alert_id."""
    columns = [
        row[0]
        for row in store.db.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = ? AND table_schema = current_schema()",
            ["reviews"],
        ).fetchall()
    ]
    if columns and "alert_id" not in columns:
        raise StoreError(REVIEWS_UNLINKED.format(columns=", ".join(columns)))
    return bool(columns)


def _count(store, sql: str, cutoff: datetime) -> int:
    return int(store.db.execute(sql, [cutoff]).fetchone()[0])
