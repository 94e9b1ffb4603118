"""Crosswalk: measured Evidence → practices → principles and framework items.

A practice names the checks that show it is met. Given the Evidence of a run (any mix of
checks, each ``pass``, ``fail`` or ``not_evidenced``), each practice gets one status:

- ``not applicable``: the practice does not apply to the run's use case (reason given);
- ``not evidenced``: none of its checks was measured; never shown as met;
- ``met``: every one of its checks was measured and passed, and no part of it is still
  ``planned`` (unmeasured by any check; such a practice is at most ``partly met``);
- ``not met``: every measured check failed;
- ``partly met``: anything in between (some pass, others fail or were not measured).

The roll-up counts statuses per framework item (e.g. per OECD principle), so an auditor
sees at a glance where the proof is and where it is missing. Pure functions: practices
are any objects with ``id``, ``serves`` (framework item ids), ``use_cases`` and ``checks``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

MET, PARTLY, NOT_MET, NOT_EVIDENCED, NOT_APPLICABLE = (
    "met",
    "partly met",
    "not met",
    "not evidenced",
    "not applicable",
)
STATUSES = (MET, PARTLY, NOT_MET, NOT_EVIDENCED, NOT_APPLICABLE)


def measured(evidence: Iterable) -> dict[str, str]:
    """check name → its verdict; a check measured more than once passes only if every
    measurement passed (``fail`` wins over ``pass``; ``not_evidenced`` counts only alone)."""
    verdicts: dict[str, str] = {}
    for e in evidence:
        check, status = _field(e, "check"), _field(e, "status")
        if verdicts.get(check) in (None, "not_evidenced") or status == "fail":
            verdicts[check] = status
    return verdicts


def practice_status(practice, verdicts: Mapping[str, str], *, use_case: str | None = None) -> dict:
    """Status of one practice with the checks behind it and, if not applicable, why."""
    if use_case is not None and use_case not in practice.use_cases:
        return {
            "practice": practice.id,
            "title": getattr(practice, "title", ""),
            "status": NOT_APPLICABLE,
            "checks": {},
            "reason": f"applies to {', '.join(practice.use_cases)}, not to {use_case}",
        }
    checks = {c: verdicts.get(c, "not_evidenced") for c in practice.checks}
    results = [v for v in checks.values() if v in ("pass", "fail")]
    if not results:
        status = NOT_EVIDENCED
    elif all(v == "pass" for v in checks.values()):
        status = PARTLY if getattr(practice, "planned", None) else MET
    elif all(v == "fail" for v in results):
        status = NOT_MET if len(results) == len(checks) else PARTLY
    else:
        status = PARTLY
    reason = f"not yet measured: {practice.planned}" if getattr(practice, "planned", None) else ""
    return {
        "practice": practice.id,
        "title": getattr(practice, "title", ""),
        "status": status,
        "checks": checks,
        "reason": reason,
    }


def crosswalk(practices: Iterable, evidence: Iterable, *, use_case: str | None = None) -> dict:
    """Every practice's status and, per framework item, how many practices serving it
    are in each status (JSON-able)."""
    verdicts = measured(evidence)
    rows = [(p, practice_status(p, verdicts, use_case=use_case)) for p in practices]
    rollup: dict[str, Counter] = {}
    for practice, row in rows:
        for item in practice.serves:
            rollup.setdefault(item, Counter())[row["status"]] += 1
    return {
        "use_case": use_case,
        "practices": [row for _, row in rows],
        "items": {
            item: {s: counts.get(s, 0) for s in STATUSES} for item, counts in sorted(rollup.items())
        },
        "unused_evidence": sorted(set(verdicts) - {c for p, _ in rows for c in p.checks}),
    }


def item_status(counts: Mapping[str, int]) -> str:
    """One line's verdict for a framework item from its practices' statuses: met only when
    every applicable practice is met; not evidenced when none was measured."""
    applicable = {s: n for s, n in counts.items() if s != NOT_APPLICABLE and n}
    if not applicable:
        return NOT_APPLICABLE
    if set(applicable) == {MET}:
        return MET
    if set(applicable) == {NOT_EVIDENCED}:
        return NOT_EVIDENCED
    if set(applicable) <= {NOT_MET, NOT_EVIDENCED}:
        return NOT_MET
    return PARTLY


def _field(evidence, name: str):
    return evidence[name] if isinstance(evidence, Mapping) else getattr(evidence, name)
