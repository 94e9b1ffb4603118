"""EDGE: reading alerts page by page with filters (for the service and its dashboard).

Portable SQL with ``?`` placeholders, so it runs on DuckDB and PostgreSQL alike. Pages are
ordered newest first, then by id, so paging is stable while new alerts arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

from trustshield.store.entities import decode

SUMMARY = (
    "alert_id",
    "model_id",
    "action",
    "suspicion",
    "category",
    "technique",
    "component",
    "created_at",
    "entities",
)


@dataclass(frozen=True)
class AlertFilter:
    """Every field is optional; given ones must all hold."""

    action: str | None = None
    category: str | None = None
    technique: str | None = None
    model_id: str | None = None
    min_suspicion: float | None = None
    review_status: str | None = None  # open / confirmed / dismissed / none (never queued)

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        for column in ("action", "category", "technique", "model_id"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"a.{column} = ?")
                params.append(value)
        if self.min_suspicion is not None:
            clauses.append("a.suspicion >= ?")
            params.append(float(self.min_suspicion))
        if self.review_status == "none":
            clauses.append("r.status IS NULL")
        elif self.review_status is not None:
            clauses.append("r.status = ?")
            params.append(self.review_status)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def alert_page(db, flt: AlertFilter, *, limit: int, offset: int) -> tuple[list[dict], int]:
    """(alerts of the page as summaries with their review status, total matching); each
    summary's ``entities`` is an :class:`~trustshield.records.AlertEntities` or None."""
    where, params = flt.where()
    base = " FROM alerts a LEFT JOIN reviews r ON r.alert_id = a.alert_id" + where
    total = db.execute("SELECT count(*)" + base, params).fetchone()[0]
    columns = ", ".join(f"a.{c}" for c in SUMMARY)
    rows = db.execute(
        f"SELECT {columns}, r.status{base} ORDER BY a.created_at DESC, a.alert_id"
        f" LIMIT {int(limit)} OFFSET {int(offset)}",
        params,
    ).fetchall()
    items = []
    for row in rows:
        item = dict(zip(SUMMARY, row[:-1]))
        item["entities"] = decode(item["entities"], item["alert_id"])
        item["review_status"] = row[-1]
        items.append(item)
    return items, int(total)
