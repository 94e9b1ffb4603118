"""Drift results as Evidence and as short JSON-able summaries (store rows, the trust report).

Evidence: ``input drift`` (largest feature PSI) and ``output drift`` (PSI of the model's
suspicion), each passing while PSI < ``MAJOR`` (0.25); ``not_evidenced`` when the window
has fewer than ``MIN_WINDOW`` records or no suspicion was given.
"""

from __future__ import annotations

from trustshield.assess.drift import MAJOR, MIN_WINDOW, DriftResult, FeatureDrift
from trustshield.assess.evidence import ACCOUNTABILITY, ROBUSTNESS
from trustshield.records import Evidence

#: features a summary lists, most drifted first
TOP_FEATURES = 5
LEVELS = ("none", "moderate", "major")


def drift_evidence(result: DriftResult) -> list[Evidence]:
    """``input drift`` (largest feature PSI) and ``output drift`` (suspicion PSI), each
    passing while PSI < MAJOR; ``not_evidenced`` for windows under MIN_WINDOW records."""
    n, small = result.n_window, result.n_window < MIN_WINDOW
    note = f"a window of {n} records is under the {MIN_WINDOW} a PSI needs; " if small else ""
    moved = ", ".join(f"{f.name} {f.psi:.2f}" for f in result.top(3))
    counts = {lv: sum(f.level == lv for f in result.features) for lv in ("moderate", "major")}
    worst = None if small or not result.features else max(f.psi for f in result.features)
    inputs = _below_major(
        "input drift", f"{note}largest population stability index over {len(result.features)} "
        f"features, training vs {n} incoming records (moved most: {moved or 'none'}; "
        f"{counts['moderate']} moderate, {counts['major']} major)", worst,
        ROBUSTNESS + ACCOUNTABILITY)
    out = result.output
    rates = "" if result.alert_rate_change is None else (
        f"; alert rate {result.reference_alert_rate:.1%} in training, "
        f"{result.window_alert_rate:.1%} in the window at threshold {result.threshold:.4g}")
    output = _below_major(
        "output drift", f"{note}population stability index of the model's suspicion, training "
        f"vs {n} incoming records{rates}", None if small or out is None else out.psi, ROBUSTNESS)
    return [inputs, output]


def _below_major(check: str, metric: str, value: float | None, principles) -> Evidence:
    status = "not_evidenced" if value is None else ("pass" if value < MAJOR else "fail")
    return Evidence(check, metric, value, MAJOR, status, principles)


def max_feature_psi(result: DriftResult) -> float | None:
    """Largest PSI over the features; None without features."""
    return max((f.psi for f in result.features), default=None)


def window_level(result: DriftResult) -> str:
    """The worst level of any feature or of the suspicion: "none", "moderate" or "major";
    "none" for a window under MIN_WINDOW records (too small for a verdict)."""
    if result.n_window < MIN_WINDOW:
        return "none"
    found = [f.level for f in result.features] + ([result.output.level] if result.output else [])
    return max(found, key=LEVELS.index, default="none")


def feature_summary(f: FeatureDrift) -> dict:
    """{name, kind, psi, ks (None for categorical), level}."""
    return {"name": f.name, "kind": f.kind, "psi": f.psi, "ks": f.ks, "level": f.level}


def drift_summary(result: DriftResult, k: int = TOP_FEATURES) -> dict:
    """Short JSON-able view of one window: records, level, largest feature PSI, output PSI
    and KS, alert rates (shares in [0, 1]) and their change, the k features that moved most."""
    out = result.output
    return {"n_window": result.n_window, "n_reference": result.n_reference,
            "level": window_level(result), "max_feature_psi": max_feature_psi(result),
            "output_psi": None if out is None else out.psi,
            "output_ks": None if out is None else out.ks,
            "output_level": None if out is None else out.level,
            "threshold": result.threshold,
            "reference_alert_rate": result.reference_alert_rate,
            "window_alert_rate": result.window_alert_rate,
            "alert_rate_change": result.alert_rate_change,
            "top_features": [feature_summary(f) for f in result.top(k)]}
