"""Detection performance: pure functions of labels and decisions.

Binary view: attack (positive) vs normal. ``alerted`` is the decision; records sent to
review count as not alerted (an analyst has not confirmed them), so detection rates here
are conservative.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score, roc_auc_score, roc_curve

ROC_POINTS = 200


def binary_metrics(*, y_true: np.ndarray, alerted: np.ndarray) -> dict:
    """accuracy, macro_f1, fpr (normals alerted), detection_rate (attacks alerted), precision."""
    y_true = np.asarray(y_true, dtype=bool)
    alerted = np.asarray(alerted, dtype=bool)
    tp = int((alerted & y_true).sum())
    fp = int((alerted & ~y_true).sum())
    return {
        "accuracy": float((alerted == y_true).mean()),
        "macro_f1": float(f1_score(y_true, alerted, average="macro", zero_division=0)),
        "fpr": _ratio(fp, int((~y_true).sum())),
        "detection_rate": _ratio(tp, int(y_true.sum())),
        "precision": _ratio(tp, tp + fp),
    }


def confusion(*, y_true: np.ndarray, alerted: np.ndarray) -> dict:
    """Rows = true class (normal, attack), columns = predicted."""
    y_true = np.asarray(y_true, dtype=bool)
    alerted = np.asarray(alerted, dtype=bool)
    matrix = [
        [int((~y_true & ~alerted).sum()), int((~y_true & alerted).sum())],
        [int((y_true & ~alerted).sum()), int((y_true & alerted).sum())],
    ]
    return {"labels": ["normal", "attack"], "matrix": matrix}


def roc(*, y_true: np.ndarray, suspicion: np.ndarray, operating_point: dict | None = None) -> dict:
    """ROC curve thinned to at most ROC_POINTS points, with AUC (None with one class)."""
    y_true = np.asarray(y_true, dtype=bool)
    if y_true.all() or not y_true.any():
        return {"fpr": [], "tpr": [], "auc": None, "operating_point": operating_point}
    fpr, tpr, _ = roc_curve(y_true, suspicion)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), ROC_POINTS)).astype(int))
    return {
        "fpr": fpr[keep].round(5).tolist(),
        "tpr": tpr[keep].round(5).tolist(),
        "auc": float(roc_auc_score(y_true, suspicion)),
        "operating_point": operating_point,
    }


def detection_by(*, groups: np.ndarray, y_true: np.ndarray, alerted: np.ndarray) -> list[dict]:
    """Detection rate per group among attack records, largest group first."""
    y_true = np.asarray(y_true, dtype=bool)
    groups = np.asarray(groups, dtype=object)[y_true]
    hits = np.asarray(alerted, dtype=bool)[y_true]
    out = []
    for group in sorted(set(groups), key=lambda g: (-(groups == g).sum(), str(g))):
        mask = groups == group
        out.append(
            {
                "group": str(group),
                "records": int(mask.sum()),
                "detected": int(hits[mask].sum()),
                "detection_rate": float(hits[mask].mean()),
            }
        )
    return out


def _ratio(num: int, den: int) -> float | None:
    return float(num / den) if den else None
