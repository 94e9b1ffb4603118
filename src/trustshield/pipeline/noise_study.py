"""Noise study: the deployed decisions (``score_batch``) under measurement noise and
missing values (perturbations and evidence: :mod:`trustshield.assess.robustness.noise`)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.assess.robustness.noise import (
    add_measurement_noise,
    compare_decisions,
    drop_features,
)
from trustshield.pipeline.scoring import score_batch
from trustshield.records import Decision

# rows scored at a time: each record is decided on its own, so batches give the same
# decisions while bounding the memory of encoded rows and explanations
SCORE_ROWS = 65_536


def decision_stability(model, frame: pd.DataFrame, perturbed: pd.DataFrame) -> dict:
    """How the deployed decisions change from ``frame`` to ``perturbed``.

    ``perturbed``'s index must be a subset of ``frame``'s (rows dropped by
    :func:`add_measurement_noise` are compared no further). Returns counts, shares, the
    3×3 transition table (before → after), flips alert→allow and allow→alert, per class
    (normal / attack) when the label column is present, and detection rate / FPR before
    and after (reviews count as not alerted, as in the benchmark).
    """
    return compare_decisions(model, frame, perturbed, lambda f: _scored_decisions(model, f))


def noise_study(
    model,
    frame: pd.DataFrame,
    spec,
    *,
    levels=(0.01, 0.05, 0.10, 0.20),
    missing_rates=(0.01, 0.05, 0.10),
    seed: int = 0,
) -> dict:
    """Decision stability under each noise level and each missing rate (JSON-able).

    Missing values are dropped from every numeric feature; ``rows_with_missing`` and
    ``non_finite_suspicion`` say whether suspicion stayed finite for those records. A
    score_batch failure is recorded (``error``) instead of raised; the decisions are then
    measured without explanations (``scored_with``), so the study still reports.
    """
    study = {
        "records": len(frame),
        "seed": seed,
        "protocol": (
            "each perturbation is applied once to the given frame with the given "
            "seed; the model is not retrained; decisions before and after come "
            "from score_batch; noisy rows that no longer validate against the spec "
            "are excluded and counted; reviews count as not alerted"
        ),
        "noise": [],
        "missing": [],
    }
    reference = _scored_decisions(model, frame)  # the unperturbed frame, scored once
    for level in levels:
        noisy = add_measurement_noise(frame, spec, level=level, seed=seed)
        row = {"level": float(level), "rejected_rows": noisy.attrs["noise"]["rejected_rows"]}
        row.update(_guarded(model, frame, noisy, reference))
        study["noise"].append(row)
    for rate in missing_rates:
        holed = drop_features(frame, spec, rate=rate, seed=seed)
        numeric = [c.name for c in spec.features if c.is_numeric and c.name in frame.columns]
        row = {
            "rate": float(rate),
            "missing_values": int(holed[numeric].isna().to_numpy().sum()),
            "rows_with_missing": int(holed[numeric].isna().any(axis=1).sum()),
        }
        row.update(_guarded(model, frame, holed, reference))
        study["missing"].append(row)
    return study


def _guarded(model, frame, perturbed, reference) -> dict:
    """decision_stability; if score_batch fails, the failure is recorded (``error``) and
    the decisions are measured again through the same steps without explanations."""
    try:
        return compare_decisions(
            model, frame, perturbed, lambda f: _scored_decisions(model, f), reference
        )
    except Exception as error:  # recorded in the study, reported as evidence
        failure = f"{type(error).__name__}: {error}"
    try:
        result = compare_decisions(
            model, frame, perturbed, lambda f: _decisions_only(model, f), reference
        )
    except Exception as error:
        return {"error": failure, "decisions_only_error": f"{type(error).__name__}: {error}"}
    return {"error": failure, "scored_with": "decisions without explanations", **result}


def _scored_decisions(model, frame: pd.DataFrame) -> Decision:
    """score_batch's decisions for every row of ``frame``, scored SCORE_ROWS rows at a time."""
    if len(frame) <= SCORE_ROWS:
        return score_batch(model, frame).decision
    parts = [
        score_batch(model, frame.iloc[start : start + SCORE_ROWS]).decision
        for start in range(0, len(frame), SCORE_ROWS)
    ]
    return Decision(
        actions=np.concatenate([d.actions for d in parts]),
        suspicion=np.concatenate([d.suspicion for d in parts]),
    )


def _decisions_only(model, frame: pd.DataFrame):
    """The decision half of score_batch: encode, suspicion, policy."""
    return model.policy.decide(model.detector.suspicion(model.encoder.transform(frame)))
