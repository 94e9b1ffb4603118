"""Measurement noise and missing values: how a trained model's decisions change.

Two perturbations a deployed monitor meets without any attacker:

- **measurement noise** (:func:`add_measurement_noise`): counters and timings read a
  little off, shares computed over slightly different windows. Driven by the spec, and
  never producing a value a monitor could not record: integer counters and timings
  (``integer`` and ``real`` columns, e.g. bytes, connections, seconds) are multiplied by
  ``1 + level·N(0, 1)``; a zero counter stays zero. Rates get ``level·0.1·N(0, 1)``
  added. Every value is then rounded to the resolution its column was recorded with
  (integers to whole numbers; real and rate columns to the fewest decimals, up to 6, that
  all values of the given frame use — NSL-KDD rates have 2) and clipped to
  ``ColumnSpec.bounds()`` ([0, 1] for rates). Without that rounding a rate of 0 becomes
  0.0007, a value no monitor that records shares to 1 % could produce, and a detector
  that ranks values among normal ones reads it as far from 0.
  Binary, categorical, label and metadata columns are untouched.
- **missing values** (:func:`drop_features`): a share of numeric feature values become
  NaN, as when a sensor drops a field.

Relations between columns: after noising, every row is validated again with
``trustshield.ingest.validate.check_frame`` (types, ranges *and* relations, e.g.
``serror_rate + rerror_rate ≤ 1``). Rows that no longer validate are excluded, because
the pipeline would reject them at ingest, and counted (``frame.attrs["noise"]``). We do not
use ``trustshield.specs.infeasibility``: it asks what an *attacker* may change (attacker
control), which says nothing about measurement error. The noisy frame keeps the original
index, so :func:`compare_decisions` compares each surviving record with itself.

:func:`compare_decisions` compares the decisions on both frames — changed actions, flips and
detection rate / FPR before and after; :mod:`trustshield.pipeline.noise_study` scores them
with ``pipeline.scoring.score_batch`` (the deployed path, explanations included). Everything here is pure: inputs are never mutated and every
random draw comes from ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.assess.evidence import RESILIENCE
from trustshield.assess.performance import binary_metrics
from trustshield.ingest.validate import check_frame
from trustshield.records import ALERT, ALLOW, REVIEW, Decision, Evidence

ACTIONS = (ALERT, REVIEW, ALLOW)
#: rates get additive noise of this many rate units per unit of ``level``
RATE_SCALE = 0.1
#: finest resolution looked for when inferring how a real or rate column was recorded
MAX_DECIMALS = 6
#: share of decisions allowed to change at 5 % measurement noise
BARS = {"noise_level": 0.05, "max_changed_share": 0.05}


def add_measurement_noise(frame: pd.DataFrame, spec, *, level: float, seed: int) -> pd.DataFrame:
    """Noisy copy of a validated ``frame``; rows that no longer validate are dropped.

    The result keeps ``frame``'s index and column dtypes; ``result.attrs["noise"]`` holds
    ``{"level", "seed", "rejected_rows", "problems"}`` (problems: up to 5 messages).
    """
    if level < 0:
        raise ValueError(f"noise level must be ≥ 0, got {level}")
    rng = np.random.default_rng(seed)
    out = frame.copy(deep=True)
    for col in spec.features:
        if col.name not in out.columns or col.type not in ("integer", "real", "rate"):
            continue
        values = out[col.name].to_numpy(dtype=np.float64)
        draw = rng.standard_normal(len(values))
        if level == 0:
            continue
        if col.type == "rate":
            noisy = values + level * RATE_SCALE * draw
            lo, hi = 0.0, 1.0
        else:
            noisy = values * (1.0 + level * draw)
            lo, hi = col.bounds()
        decimals = 0 if col.type == "integer" else recorded_decimals(values)
        if decimals is not None:
            noisy = np.round(noisy, decimals)
            step = 10.0**-decimals
            lo, hi = np.ceil(lo / step) * step, np.floor(hi / step) * step
        noisy = np.clip(noisy, lo, hi)
        noisy = np.where(np.isnan(values), values, noisy)  # a missing value stays missing
        out[col.name] = noisy.astype(out[col.name].dtype, copy=False)
    if level == 0:
        out.attrs["noise"] = {"level": 0.0, "seed": seed, "rejected_rows": 0, "problems": []}
        return out
    checked = check_frame(out, spec, file="noisy", lines=np.arange(len(out)))
    kept = out.iloc[checked.lines]
    kept.attrs["noise"] = {
        "level": float(level),
        "seed": seed,
        "rejected_rows": int(checked.rejected_rows),
        "problems": [p.message() for p in checked.problems[:5]],
    }
    return kept


def drop_features(
    frame: pd.DataFrame, spec, *, columns: list[str] | None = None, rate: float, seed: int
) -> pd.DataFrame:
    """Copy of ``frame`` with ``round(rate × n × len(columns))`` cells of the given numeric
    feature columns (default: every numeric feature) set to NaN, chosen uniformly."""
    if not 0 <= rate <= 1:
        raise ValueError(f"missing rate must be in [0, 1], got {rate}")
    numeric = [c.name for c in spec.features if c.is_numeric and c.name in frame.columns]
    columns = numeric if columns is None else list(columns)
    unknown = [c for c in columns if c not in numeric]
    if unknown:
        raise ValueError(
            f"not numeric feature columns of spec {spec.name!r} in the frame: {unknown}"
        )
    out = frame.copy(deep=True)
    n = len(out)
    cells = n * len(columns)
    k = int(round(rate * cells))
    if k == 0:
        return out
    chosen = np.random.default_rng(seed).choice(cells, size=k, replace=False)
    rows, which = chosen % n, chosen // n
    for j, name in enumerate(columns):
        picked = rows[which == j]
        if len(picked):
            values = out[name].to_numpy(dtype=np.float64, copy=True)
            values[picked] = np.nan
            out[name] = values
    return out


def compare_decisions(model, frame, perturbed, decide, reference=None) -> dict:
    """How the decisions ``decide(rows)`` (a :class:`Decision`) change from ``frame`` to
    ``perturbed`` (see :func:`trustshield.pipeline.noise_study.decision_stability`).
    ``reference``: ``decide(frame)`` when the caller has it already (every record is
    decided on its own, so a subset of rows takes the same subset of decisions)."""
    base = frame.loc[perturbed.index]
    if reference is None:
        before = decide(base)
    else:
        at = frame.index.get_indexer(perturbed.index)
        before = Decision(reference.actions[at], reference.suspicion[at])
    after = decide(perturbed)
    a, b = before.actions.astype(str), after.actions.astype(str)
    result = {
        "records": len(base),
        "excluded": len(frame) - len(base),
        **_changes(a, b),
        "transitions": {x: {y: int(((a == x) & (b == y)).sum()) for y in ACTIONS} for x in ACTIONS},
        "suspicion_finite": bool(np.isfinite(after.suspicion).all()),
        "non_finite_suspicion": int((~np.isfinite(after.suspicion)).sum()),
        "max_abs_suspicion_change": _max_abs(after.suspicion - before.suspicion),
    }
    spec = model.spec
    if spec.label_column is not None and spec.label_column in base.columns:
        attack = base[spec.label_column].to_numpy(dtype=object) != spec.normal_label
        result["by_class"] = {
            "normal": _changes(a[~attack], b[~attack]),
            "attack": _changes(a[attack], b[attack]),
        }
        m0 = binary_metrics(y_true=attack, alerted=a == ALERT)
        m1 = binary_metrics(y_true=attack, alerted=b == ALERT)
        result["before"] = {k: m0[k] for k in ("detection_rate", "fpr", "accuracy")}
        result["after"] = {k: m1[k] for k in ("detection_rate", "fpr", "accuracy")}
    return result


def noise_evidence(study: dict) -> list[Evidence]:
    """Evidence from :func:`~trustshield.pipeline.noise_study.noise_study`: stability at 5 %
    noise; finite suspicion with missing values. A figure that was not measured is ``not_evidenced``."""
    at = next(
        (r for r in study.get("noise", []) if abs(r["level"] - BARS["noise_level"]) < 1e-12), None
    )
    changed = None if at is None or "error" in at else at["changed_share"]
    stability = Evidence(
        "measurement-noise stability",
        f"share of decisions changed at {BARS['noise_level']:.0%} measurement noise",
        changed,
        BARS["max_changed_share"],
        "not_evidenced"
        if changed is None
        else ("pass" if changed <= BARS["max_changed_share"] else "fail"),
        RESILIENCE,
    )
    missing = study.get("missing", [])
    if not missing:
        status, value = "not_evidenced", None
    else:
        failed = [r for r in missing if "error" in r or not r.get("suspicion_finite", False)]
        value = float(sum(r.get("non_finite_suspicion", 0) for r in missing))
        status = "fail" if failed else "pass"
    handling = Evidence(
        "missing-value handling",
        "records with missing values whose suspicion is not finite (fails too when "
        "score_batch cannot score a frame with missing values)",
        value,
        0.0,
        status,
        RESILIENCE,
    )
    return [stability, handling]


def recorded_decimals(values: np.ndarray) -> int | None:
    """Fewest decimals (0 … MAX_DECIMALS) that every finite value is recorded with: the
    monitor's resolution (NSL-KDD rates: 2). None when finer than that."""
    finite = values[np.isfinite(values)]
    for decimals in range(MAX_DECIMALS + 1):
        if np.allclose(finite, np.round(finite, decimals), rtol=0, atol=1e-9):
            return decimals
    return None


def _changes(a: np.ndarray, b: np.ndarray) -> dict:
    n = len(a)
    changed = int((a != b).sum())
    return {
        "n": n,
        "changed": changed,
        "changed_share": changed / n if n else None,
        "alert_to_allow": int(((a == ALERT) & (b == ALLOW)).sum()),
        "allow_to_alert": int(((a == ALLOW) & (b == ALERT)).sum()),
        "alert_to_allow_rate": _ratio(((a == ALERT) & (b == ALLOW)).sum(), (a == ALERT).sum()),
        "allow_to_alert_rate": _ratio(((a == ALLOW) & (b == ALERT)).sum(), (a == ALLOW).sum()),
    }


def _ratio(num, den) -> float | None:
    return float(num) / float(den) if den else None


def _max_abs(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return float(np.abs(finite).max()) if len(finite) else None
