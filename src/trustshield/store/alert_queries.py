"""EDGE: reading alerts page by page with filters, sorted, and counted (for the service and
its dashboard).

Portable SQL with ``?`` placeholders, so it runs on DuckDB and PostgreSQL alike. A page is
ordered by the chosen :class:`AlertSort` (suspicion, the record's own time ``event_time``,
or the time it was stored ``created_at``; descending or ascending), then by a stable
tiebreak: stored time (newest first), the input file, the record's line (as a number), the
alert id. Alerts without the sorted value (no event time) come last either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from trustshield.errors import DataError
from trustshield.store.entities import decode
from trustshield.store.where import Where

SUMMARY = (
    "alert_id",
    "model_id",
    "action",
    "suspicion",
    "category",
    "technique",
    "component",
    "rationale",
    "event_time",
    "created_at",
    "entities",
)
SORT_KEYS = ("suspicion", "event_time", "created_at")
ORDERS = ("desc", "asc")
TIEBREAK = "a.created_at DESC, a.source_sha256, a.line, a.alert_id"
#: the counts shown with the list: name → SQL expression of the grouped value
COUNTED = {
    "category": "a.category",
    "technique": "a.technique",
    "hour": "date_trunc('hour', a.event_time)",
}
MAX_BUCKETS = 500  # values per count (the most frequent; hours: the latest)


@dataclass(frozen=True)
class AlertSort:
    """``key`` one of :data:`SORT_KEYS`, ``order`` ``desc`` (largest / latest first) or
    ``asc``."""

    key: str = "event_time"
    order: str = "desc"

    def __post_init__(self) -> None:
        if self.key not in SORT_KEYS:
            raise DataError(f"sort must be one of {', '.join(SORT_KEYS)}; got {self.key!r}")
        if self.order not in ORDERS:
            raise DataError(f"order must be one of {', '.join(ORDERS)}; got {self.order!r}")

    def sql(self) -> str:
        return f"a.{self.key} {self.order.upper()} NULLS LAST, {TIEBREAK}"


@dataclass(frozen=True)
class AlertFilter:
    """Every field is optional; given ones must all hold.

    ``since`` / ``until``: the record's own time (``event_time``) is at or after / before
    them (alerts without an event time then do not match). ``ip``: the source or the
    destination address is this one; ``src_ip`` / ``dst_ip`` one side only; ``host``: the
    source or destination address starts with this text (``10.0.0.`` finds a subnet).
    Identities are compared as stored: in a store that pseudonymises, callers give the
    pseudonym (see :func:`trustshield.store.entities.store_pseudonymiser`). ``port``:
    the source or the destination port; ``dst_port`` the destination's only.
    """

    action: str | None = None
    category: str | None = None
    technique: str | None = None
    model_id: str | None = None
    min_suspicion: float | None = None
    review_status: str | None = None  # open / confirmed / dismissed / none (never queued)
    since: datetime | None = None
    until: datetime | None = None
    ip: str | None = None
    src_ip: str | None = None
    dst_ip: str | None = None
    host: str | None = None
    port: int | None = None
    dst_port: int | None = None

    def where(self) -> tuple[str, list]:
        where = Where()
        where.equal(self, ("action", "category", "technique", "model_id", "src_ip", "dst_ip"), "a.")
        if self.min_suspicion is not None:
            where.add("a.suspicion >= ?", float(self.min_suspicion))
        if self.since is not None:
            where.add("a.event_time >= ?", self.since)
        if self.until is not None:
            where.add("a.event_time < ?", self.until)
        if self.ip is not None:
            where.add("(a.src_ip = ? OR a.dst_ip = ?)", self.ip, self.ip)
        if self.host is not None:
            pattern = _escaped(self.host) + "%"
            where.add(
                "(a.src_ip LIKE ? ESCAPE '\\' OR a.dst_ip LIKE ? ESCAPE '\\')", pattern, pattern
            )
        if self.port is not None:
            where.add("(a.src_port = ? OR a.dst_port = ?)", int(self.port), int(self.port))
        if self.dst_port is not None:
            where.add("a.dst_port = ?", int(self.dst_port))
        if self.review_status == "none":
            where.add("r.status IS NULL")
        elif self.review_status is not None:
            where.add("r.status = ?", self.review_status)
        return where.sql(), where.params

    def source(self) -> tuple[str, list]:
        """The FROM clause (alerts ``a``, their review ``r`` when the filter needs it) and
        WHERE clause with its parameters."""
        where, params = self.where()
        join = (
            " LEFT JOIN reviews r ON r.alert_id = a.alert_id"
            if self.review_status is not None
            else ""
        )
        return " FROM alerts a" + join + where, params


def _escaped(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def alert_page(
    db, flt: AlertFilter, *, limit: int, offset: int, sort: AlertSort = AlertSort()
) -> tuple[list[dict], int]:
    """(alerts of the page as summaries with their review status, total matching); each
    summary's ``entities`` is an :class:`~trustshield.records.AlertEntities` or None."""
    base, params = flt.source()
    total = db.execute("SELECT count(*)" + base, params).fetchone()[0]
    columns = ", ".join(f"a.{c}" for c in SUMMARY)
    rows = db.execute(
        f"SELECT {columns}{base} ORDER BY {sort.sql()} LIMIT {int(limit)} OFFSET {int(offset)}",
        params,
    ).fetchall()
    statuses = _statuses(db, [row[0] for row in rows])
    items = []
    for row in rows:
        item = dict(zip(SUMMARY, row))
        item["entities"] = decode(item["entities"], item["alert_id"])
        item["review_status"] = statuses.get(item["alert_id"])
        items.append(item)
    return items, int(total)


def _statuses(db, alert_ids: list[str]) -> dict[str, str]:
    """{alert id: review status} of the queued ones among ``alert_ids``."""
    if not alert_ids:
        return {}
    marks = ", ".join("?" * len(alert_ids))
    rows = db.execute(
        f"SELECT alert_id, status FROM reviews WHERE alert_id IN ({marks})", alert_ids
    ).fetchall()
    return dict(rows)


def alert_counts(db, flt: AlertFilter) -> dict[str, list[tuple]]:
    """The matching alerts counted by each of :data:`COUNTED`: {name: [(value, count)]},
    categories and techniques most frequent first (then by value), hours (UTC, the start of
    each hour of ``event_time``; alerts without one left out) in time order; at most
    :data:`MAX_BUCKETS` values each."""
    base, params = flt.source()
    counts = {}
    for name, expression in COUNTED.items():
        if name == "hour":
            sql = (
                f"SELECT * FROM (SELECT {expression} AS v, count(*) AS n{base}"
                f"{' AND' if 'WHERE' in base else ' WHERE'} a.event_time IS NOT NULL"
                f" GROUP BY v ORDER BY v DESC LIMIT {MAX_BUCKETS}) t ORDER BY v"
            )
        else:
            sql = (
                f"SELECT {expression} AS v, count(*) AS n{base} GROUP BY v"
                f" ORDER BY n DESC, v NULLS LAST LIMIT {MAX_BUCKETS}"
            )
        counts[name] = [(value, int(n)) for value, n in db.execute(sql, params).fetchall()]
    return counts
