"""Short JSON-able summaries of drift results (store rows, the trust report)."""

from __future__ import annotations

from trustshield.drift.monitor import MIN_WINDOW, DriftResult, FeatureDrift

#: features a summary lists, most drifted first
TOP_FEATURES = 5
LEVELS = ("none", "moderate", "major")


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
    return {
        "n_window": result.n_window,
        "n_reference": result.n_reference,
        "level": window_level(result),
        "max_feature_psi": max_feature_psi(result),
        "output_psi": None if out is None else out.psi,
        "output_ks": None if out is None else out.ks,
        "output_level": None if out is None else out.level,
        "threshold": result.threshold,
        "reference_alert_rate": result.reference_alert_rate,
        "window_alert_rate": result.window_alert_rate,
        "alert_rate_change": result.alert_rate_change,
        "top_features": [feature_summary(f) for f in result.top(k)],
    }
