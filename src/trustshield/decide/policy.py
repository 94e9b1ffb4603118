"""Alert / review / allow from suspicion, with thresholds calibrated on training data.

The alert threshold keeps the share of normal training records alerted at or below
``max_normal_fpr``; records between the review and alert thresholds go to a human
(the abstain band). Scores passed to :meth:`ThresholdPolicy.fit` must be out-of-fold
training scores, never test scores.
"""

from __future__ import annotations

import numpy as np

from trustshield.errors import NOT_FITTED, DataError, NotFittedError
from trustshield.records import ALERT, ALLOW, REVIEW, Decision


class ThresholdPolicy:
    """Two thresholds on suspicion: review ≤ s < alert → review; s ≥ alert → alert."""

    def __init__(
        self,
        *,
        max_normal_fpr: float = 0.02,
        review_normal_fpr: float = 0.04,
        floor: float | None = None,
    ):
        self.max_normal_fpr = max_normal_fpr
        self.review_normal_fpr = review_normal_fpr
        self.floor = floor

    def fit(self, *, normal_scores: np.ndarray) -> ThresholdPolicy:
        """Calibrate on suspicion of normal training records (shape (n,), out-of-fold).

        With ``floor`` set, the alert threshold is at least ``floor`` (for a hybrid whose
        scale puts its components' operating points at 1).
        """
        normal_scores = np.asarray(normal_scores, dtype=float)
        if normal_scores.ndim != 1 or len(normal_scores) == 0:
            raise DataError("normal_scores must be a non-empty 1-D array of suspicion")
        if not 0 < self.max_normal_fpr <= self.review_normal_fpr < 1:
            raise DataError(
                "expected 0 < max_normal_fpr ≤ review_normal_fpr < 1, got "
                f"{self.max_normal_fpr} and {self.review_normal_fpr}"
            )
        alert = float(np.quantile(normal_scores, 1 - self.max_normal_fpr, method="higher"))
        if self.floor is not None:
            alert = max(alert, self.floor)
        review = float(np.quantile(normal_scores, 1 - self.review_normal_fpr, method="higher"))
        self.alert_threshold_ = np.nextafter(alert, np.inf)
        self.review_threshold_ = min(review, self.alert_threshold_)
        return self

    def decide(self, suspicion: np.ndarray) -> Decision:
        if not hasattr(self, "alert_threshold_"):
            raise NotFittedError(NOT_FITTED.format(name="ThresholdPolicy", method="decide"))
        suspicion = np.asarray(suspicion, dtype=float)
        actions = np.full(len(suspicion), ALLOW, dtype=object)
        actions[suspicion >= self.review_threshold_] = REVIEW
        actions[suspicion >= self.alert_threshold_] = ALERT
        return Decision(actions=actions, suspicion=suspicion)

    def to_dict(self) -> dict:
        return {
            "max_normal_fpr": self.max_normal_fpr,
            "review_normal_fpr": self.review_normal_fpr,
            "floor": self.floor,
            "alert_threshold": self.alert_threshold_,
            "review_threshold": self.review_threshold_,
        }

    @classmethod
    def from_dict(cls, state: dict) -> ThresholdPolicy:
        policy = cls(
            max_normal_fpr=state["max_normal_fpr"],
            review_normal_fpr=state["review_normal_fpr"],
            floor=state.get("floor"),
        )
        policy.alert_threshold_ = state["alert_threshold"]
        policy.review_threshold_ = state["review_threshold"]
        return policy


#: calibrate_band: share of ordinary traffic inside the boundary band
BAND_SHARE = 0.01
BAD_CALIBRATION = (
    "calibrate_band expects a non-empty 1-D array of finite margins and "
    "0 < share < 1; got margins of shape {shape} and share {share!r}"
)


def calibrate_band(margin: np.ndarray, *, share: float = BAND_SHARE) -> float:
    """The boundary band for a model: the ``share`` quantile (an observed value) of |margin|
    over its ordinary traffic (``margin`` shape (n,), suspicion minus the alert threshold,
    suspicion units)."""
    margin = np.asarray(margin, dtype=float)
    if margin.ndim != 1 or not len(margin) or not np.isfinite(margin).all() or not 0 < share < 1:
        raise DataError(BAD_CALIBRATION.format(shape=margin.shape, share=share))
    return float(np.quantile(np.abs(margin), share, method="higher"))
