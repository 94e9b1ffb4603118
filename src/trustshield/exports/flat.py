"""Alerts as plain JSON objects (one per line) and as CSV rows.

A JSON line holds everything stored about an alert: the columns of the ``alerts`` table,
``event_time`` (the record's own time, null when unknown), ``entities`` as an object (the
set fields only) and ``contributions``: every exact attribution keyed by feature name in
model order, so ``base + sum(contributions.values()) == suspicion``.

A CSV row is for spreadsheets and quick filtering: the summary columns, the entities as
columns (the record's own time as ISO 8601 ``event_time``) and the five largest contributions as ``feature:+0.1234`` text. Text cells that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return: OWASP's CSV injection advice) are written with a leading ``'``.
"""

from __future__ import annotations

from typing import Any

from trustshield.exports.query import StoredAlert
from trustshield.records import ENTITY_FIELDS

#: the entity columns of a CSV row (the record's time is the ``event_time`` column)
CSV_ENTITIES = tuple(name for name in ENTITY_FIELDS if name != "ts")
CSV_COLUMNS = (
    "alert_id",
    "timestamp",
    "event_time",
    "created_at",
    "action",
    "suspicion",
    "category",
    "technique",
    "component",
    "label",
    *CSV_ENTITIES,
    "model_id",
    "run_id",
    "line",
    "rationale",
    "top_contributions",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def json_record(alert: StoredAlert) -> dict[str, Any]:
    """The complete JSON object of one alert (see the module docstring)."""
    names = alert.model.feature_names
    if len(names) != len(alert.attributions):
        names = tuple(f"feature_{j}" for j in range(len(alert.attributions)))
    return {
        "alert_id": alert.alert_id,
        "timestamp": alert.timestamp_text,
        "event_time": alert.event_text,
        "created_at": alert.created_text,
        "run_id": alert.run_id,
        "model_id": alert.model_id,
        "source_sha256": alert.source_sha256,
        "line": alert.line,
        "action": alert.action,
        "suspicion": alert.suspicion,
        "category": alert.category,
        "technique": alert.technique,
        "component": alert.component,
        "label": alert.label,
        "rationale": alert.rationale,
        "entities": alert.entities(),
        "base": alert.base,
        "contributions": dict(zip(names, _floats(alert.attributions))),
    }


def csv_row(alert: StoredAlert) -> list[Any]:
    """One CSV row in :data:`CSV_COLUMNS` order ("" where a value is unknown)."""
    top = "; ".join(f"{feature}:{c:+.4f}" for feature, c in alert.top)
    row = [
        alert.alert_id,
        alert.timestamp_text,
        alert.event_text,
        alert.created_text,
        alert.action,
        alert.suspicion,
        alert.category,
        alert.technique,
        alert.component,
        alert.label,
        *(getattr(alert, name) for name in CSV_ENTITIES),
        alert.model_id,
        alert.run_id,
        alert.line,
        alert.rationale,
        top,
    ]
    return ["" if v is None else _text(v) if isinstance(v, str) else v for v in row]


def _floats(values) -> list[float]:
    return values.tolist() if hasattr(values, "tolist") else list(values)


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_START) else value
