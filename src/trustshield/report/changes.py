"""What changed since the previous report of the same model: metrics and evidence verdicts.

:func:`compare` is a plain function of two report dicts (the previous one as read back from
its ``report.json``, or ``None``). Reports of different models are not compared: a different
model id says so and nothing else.
"""

from __future__ import annotations

import math

FIRST = "first report"
DIFFERENT = "different model"
COMPARED = "compared"
UNREADABLE = "previous report unreadable"
STATUSES = (FIRST, DIFFERENT, COMPARED, UNREADABLE)


def compare(previous: dict | None, current: dict) -> dict:
    """The ``changes`` block of ``current`` given the ``previous`` report (or None)."""
    model_id = current["model"]["model_id"]
    if previous is None:
        return _block(FIRST, model_id)
    if (
        not isinstance(previous, dict)
        or not isinstance(previous.get("model"), dict)
        or "model_id" not in previous["model"]
    ):
        return _block(UNREADABLE, model_id)
    block = _block(COMPARED, model_id, previous)
    if previous["model"]["model_id"] != model_id:
        block["status"] = DIFFERENT
        return block
    block["metrics"] = _metrics(previous.get("metrics") or {}, current.get("metrics") or {})
    block["evidence"] = _verdicts(previous.get("evidence") or [], current.get("evidence") or [])
    return block


def _block(status: str, model_id: str, previous: dict | None = None) -> dict:
    prev_model = (previous or {}).get("model") or {}
    return {
        "status": status,
        "model_id": model_id,
        "previous_model_id": prev_model.get("model_id"),
        "previous_generated_at": (previous or {}).get("generated_at"),
        "metrics": [],
        "evidence": [],
    }


def _number(value) -> float | None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return value if ok else None


def _metrics(old: dict, new: dict) -> list[dict]:
    """Every metric in either report: old, new and new - old (None when one is missing)."""
    rows = []
    for key in sorted(set(old) | set(new)):
        a, b = _number(old.get(key)), _number(new.get(key))
        rows.append(
            {"metric": key, "old": a, "new": b, "delta": None if a is None or b is None else b - a}
        )
    return rows


def _verdicts(old: list, new: list) -> list[dict]:
    """Checks whose status changed, appeared or disappeared (missing side: None)."""

    def keyed(items):
        return {(e.get("check"), e.get("metric")): e for e in items if isinstance(e, dict)}

    before, after = keyed(old), keyed(new)
    rows = []
    for key in sorted(set(before) | set(after), key=lambda k: (str(k[0]), str(k[1]))):
        a, b = before.get(key, {}).get("status"), after.get(key, {}).get("status")
        if a != b:
            rows.append({"check": key[0], "metric": key[1], "old": a, "new": b})
    return rows
