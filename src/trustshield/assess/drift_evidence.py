"""Drift results as Evidence (their short JSON-able summaries are :mod:`trustshield.drift.summary`).

Evidence: ``input drift`` (largest feature PSI) and ``output drift`` (PSI of the model's
suspicion), each passing while PSI < ``MAJOR`` (0.25); ``not_evidenced`` when the window
has fewer than ``MIN_WINDOW`` records or no suspicion was given.
"""

from __future__ import annotations

from trustshield.assess.evidence import ACCOUNTABILITY, ROBUSTNESS
from trustshield.drift.monitor import MAJOR, MIN_WINDOW, DriftResult
from trustshield.records import Evidence


def drift_evidence(result: DriftResult) -> list[Evidence]:
    """``input drift`` (largest feature PSI) and ``output drift`` (suspicion PSI), each
    passing while PSI < MAJOR; ``not_evidenced`` for windows under MIN_WINDOW records."""
    n, small = result.n_window, result.n_window < MIN_WINDOW
    note = f"a window of {n} records is under the {MIN_WINDOW} a PSI needs; " if small else ""
    moved = ", ".join(f"{f.name} {f.psi:.2f}" for f in result.top(3))
    counts = {lv: sum(f.level == lv for f in result.features) for lv in ("moderate", "major")}
    worst = None if small or not result.features else max(f.psi for f in result.features)
    inputs = _below_major(
        "input drift",
        f"{note}largest population stability index over {len(result.features)} "
        f"features, training vs {n} incoming records (moved most: {moved or 'none'}; "
        f"{counts['moderate']} moderate, {counts['major']} major)",
        worst,
        ROBUSTNESS + ACCOUNTABILITY,
    )
    out = result.output
    rates = (
        ""
        if result.alert_rate_change is None
        else (
            f"; alert rate {result.reference_alert_rate:.1%} in training, "
            f"{result.window_alert_rate:.1%} in the window at threshold {result.threshold:.4g}"
        )
    )
    output = _below_major(
        "output drift",
        f"{note}population stability index of the model's suspicion, training "
        f"vs {n} incoming records{rates}",
        None if small or out is None else out.psi,
        ROBUSTNESS,
    )
    return [inputs, output]


def _below_major(check: str, metric: str, value: float | None, principles) -> Evidence:
    status = "not_evidenced" if value is None else ("pass" if value < MAJOR else "fail")
    return Evidence(check, metric, value, MAJOR, status, principles)
