"""Plain baselines beside the model (practice P26, "compare against simple baselines").

A default LightGBM classifier (scikit-learn interface, no parameter set) trained on the
same encoded training records, and a default IsolationForest trained on their normal
records only, are scored on the same test records. Each is compared with the model at the
model's own false-positive rate on those records: the baseline's threshold is the score
that alerts at most that share of the test's normal records. The model passes when its
detection is at least the baseline's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.assess.evidence import ROBUSTNESS, at_least
from trustshield.records import Evidence

CHECK = "baseline comparison"
LIGHTGBM = "LightGBM (defaults)"
ISOLATION_FOREST = "IsolationForest (defaults, normal records)"


@dataclass(frozen=True)
class BaselineComparison:
    """The model and one baseline on the same test records, at the model's FPR.

    Rates are fractions in [0, 1]; ``baseline_auc`` is the baseline's ROC AUC on the test
    records (higher score = more suspicious)."""

    baseline: str
    fpr: float
    model_detection: float
    baseline_detection: float
    baseline_auc: float

    @property
    def margin(self) -> float:
        """Model detection minus baseline detection (≥ 0: the model is at least as good)."""
        return self.model_detection - self.baseline_detection


def detection_at_fpr(scores: np.ndarray, attack: np.ndarray, fpr: float) -> float:
    """Share of attack records (``attack`` (n,) bool) whose score (n,) is above the
    threshold that alerts at most ``fpr`` of the normal records (ties stay below)."""
    normal = np.sort(scores[~attack])
    allowed = int(np.floor(fpr * len(normal) + 1e-9))
    threshold = normal[len(normal) - allowed - 1] if allowed < len(normal) else -np.inf
    return float((scores[attack] > threshold).mean())


def compare_baselines(
    X_train: pd.DataFrame,
    attack_train: np.ndarray,
    X_test: pd.DataFrame,
    attack_test: np.ndarray,
    alerted: np.ndarray,
    *,
    seed: int = 0,
) -> list[BaselineComparison]:
    """Both baselines against the model's alerts (``alerted`` (m,) bool on ``X_test``).

    ``X_*`` are encoded features (n, d) and (m, d); ``attack_*`` the true classes (bool).
    """
    import lightgbm as lgb
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import roc_auc_score

    if attack_test.all() or not attack_test.any():
        raise ValueError("the test records need both normal and attack records")
    fpr = float(alerted[~attack_test].mean())
    model_detection = float(alerted[attack_test].mean())
    classifier = lgb.LGBMClassifier(random_state=seed, verbose=-1)
    classifier.fit(X_train, attack_train.astype(int))
    forest = IsolationForest(random_state=seed).fit(X_train[~attack_train])
    scores = {
        LIGHTGBM: classifier.predict_proba(X_test)[:, 1],
        ISOLATION_FOREST: -forest.score_samples(X_test),
    }
    return [
        BaselineComparison(
            baseline=name,
            fpr=fpr,
            model_detection=model_detection,
            baseline_detection=detection_at_fpr(s, attack_test, fpr),
            baseline_auc=float(roc_auc_score(attack_test, s)),
        )
        for name, s in scores.items()
    ]


def baseline_evidence(
    comparisons: list[BaselineComparison] | None, why: str = ""
) -> list[Evidence]:
    """One Evidence per baseline: the model's detection minus the baseline's at the model's
    FPR, bar 0 (fail: the baseline is better). ``None``: not run (``why`` says why)."""
    if comparisons is None:
        return [
            Evidence(CHECK, f"no baseline was run: {why}", None, 0.0, "not_evidenced", ROBUSTNESS)
        ]
    return [
        at_least(
            CHECK,
            f"detection minus {c.baseline}'s at the model's test FPR {c.fpr:.4f} "
            f"({c.model_detection:.4f} vs {c.baseline_detection:.4f}; baseline AUC "
            f"{c.baseline_auc:.4f})",
            c.margin,
            0.0,
            ROBUSTNESS,
        )
        for c in comparisons
    ]
