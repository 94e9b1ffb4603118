"""Detectors of unusual host behaviour over channel windows (``features.behaviour`` rows).

- ``behaviour-baseline`` (:class:`SiteBaselineDetector`): learned without labels from a
  period of a site's own traffic. Each feature is put on a log scale
  (``sign(x) * log1p(|x|)``) and compared with the site's median in units of its robust
  spread (1.4826 × MAD, at least ``min_scale``; or, with ``spread="range"``, the distance
  from the median to the farthest normal value, so that 1 is the edge of everything the
  site showed); only deviations in the feature's
  suspicious direction count, each capped at ``cap``. Suspicion is the sum of those
  deviations (≥ 0, 0 = nothing beyond the site's median), so attributions are exact with
  base 0. With labels, only the normal rows shape the baseline.
- ``behaviour`` (:class:`BehaviourModel`): supervised, a class-balanced logistic model
  on the same rows (log scale, standardised); suspicion is the log-odds that a channel
  window is malicious, attributions exact (coefficient × standardised value).

Neither thresholds: the operating point is chosen by the caller (leave-one-scenario-out
on training scenarios, :mod:`trustshield.incidents.operating`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.inputs import check_frame, check_labels, check_rows, feature_matrix
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import Attributions, attack_mask, check_columns, check_fitted
from trustshield.detectors.registry import register
from trustshield.errors import DataError

BAD_DIRECTION = "directions[{name!r}] must be -1, 0 or +1, got {value!r}"
BAD_POSITIVE = "{name} must be a positive number, got {value!r}"
NO_NORMAL = "{name}.fit: the labels mark no row as normal; the baseline needs normal rows"


def _log(matrix: np.ndarray) -> np.ndarray:
    return np.asarray(np.sign(matrix) * np.log1p(np.abs(matrix)))


@register("behaviour-baseline")
class SiteBaselineDetector(Parameters):
    """Sum (or maximum) of capped robust deviations from the site's median, per feature.

    ``directions`` maps a feature name to +1 (larger is suspicious, the default), -1
    (smaller is suspicious) or 0 (either way); kept as given (None = all +1)."""

    kind: ClassVar[str]

    def __init__(
        self,
        *,
        directions: dict[str, int] | None = None,
        cap: float = 10.0,
        min_scale: float = 0.25,
        combine: str = "sum",
        spread: str = "mad",
    ):
        if combine not in ("sum", "max"):
            raise DataError(f"combine must be 'sum' or 'max', got {combine!r}")
        if spread not in ("mad", "range"):
            raise DataError(f"spread must be 'mad' or 'range', got {spread!r}")
        for feature, direction in (directions or {}).items():
            if direction not in (-1, 0, 1):
                raise DataError(BAD_DIRECTION.format(name=feature, value=direction))
        for name, value in (("cap", cap), ("min_scale", min_scale)):
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise DataError(BAD_POSITIVE.format(name=name, value=value))
        self.directions = directions
        self.cap = cap
        self.min_scale = min_scale
        self.combine = combine
        self.spread = spread

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> SiteBaselineDetector:
        """Learn the median and robust spread of each feature of X (n, d); with labels y
        (n,), of the normal rows only."""
        name = type(self).__name__
        check_rows(check_frame(X, name, "fit"), name, "fit")
        matrix = _log(np.nan_to_num(feature_matrix(X, name, "fit")))
        if y is not None:
            normal = ~attack_mask(check_labels(y, len(X), name, "fit"))
            if not normal.any():
                raise DataError(NO_NORMAL.format(name=name))
            matrix = matrix[normal]
        self.feature_names_ = tuple(X.columns)
        self.median_ = np.median(matrix, axis=0)
        self.direction_ = np.array(
            [int((self.directions or {}).get(f, 1)) for f in self.feature_names_], float
        )
        if self.spread == "mad":
            spread = 1.4826 * np.median(np.abs(matrix - self.median_), axis=0)
        else:  # distance from the median to the farthest normal value, in the direction
            up, down = matrix.max(axis=0) - self.median_, self.median_ - matrix.min(axis=0)
            spread = np.where(
                self.direction_ > 0, up, np.where(self.direction_ < 0, down, np.maximum(up, down))
            )
        self.scale_ = np.maximum(spread, self.min_scale)
        return self

    def _terms(self, X: pd.DataFrame, method: str) -> np.ndarray:
        check_fitted(self, method)
        z = (_log(np.nan_to_num(check_columns(self, X, method))) - self.median_) / self.scale_
        signed = np.where(self.direction_ == 0, np.abs(z), z * self.direction_)
        return np.asarray(np.clip(signed, 0.0, self.cap))

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """Sum (or, with ``combine="max"``, the largest) over features of the capped
        deviation in the suspicious direction, shape (n,), ≥ 0."""
        terms = self._terms(X, "suspicion")
        return np.asarray(
            terms.max(axis=1, initial=0.0) if self.combine == "max" else terms.sum(axis=1)
        )

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Each feature's capped deviation (``max``: the largest one only, the others 0);
        base 0."""
        values = self._terms(X, "explain")
        if self.combine == "max" and values.size:
            top = values.argmax(axis=1)
            kept = np.zeros_like(values)
            kept[np.arange(len(values)), top] = values[np.arange(len(values)), top]
            values = kept
        return Attributions(self.feature_names_, values, np.zeros(len(values)))

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        return {
            "kind": self.kind,
            "params": {**self._params_state(), "directions": dict(self.directions or {})},
            "feature_names": list(self.feature_names_),
            "median": self.median_.tolist(),
            "scale": self.scale_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> SiteBaselineDetector:
        params = dict(state["params"])
        params["directions"] = params.get("directions") or None
        detector = cls(**params)
        detector.feature_names_ = tuple(state["feature_names"])
        detector.median_ = np.asarray(state["median"], float)
        detector.scale_ = np.asarray(state["scale"], float)
        detector.direction_ = np.array(
            [int((detector.directions or {}).get(f, 1)) for f in detector.feature_names_], float
        )
        return detector


@register("behaviour")
class BehaviourModel(Parameters):
    """Supervised channel-window scorer: a class-balanced, L2-regularised logistic model on
    the features put on a log scale and standardised. Linear, so it extrapolates in the
    direction it learned (a flood far beyond the training rates still scores high) and its
    attributions are exact: ``coef_j * z_j`` per feature, the intercept as base."""

    kind: ClassVar[str]

    def __init__(self, *, C: float = 0.1, max_iter: int = 2000):
        if not (isinstance(C, (int, float)) and np.isfinite(C) and C > 0):
            raise DataError(BAD_POSITIVE.format(name="C", value=C))
        if not (isinstance(max_iter, int) and max_iter > 0):
            raise DataError(BAD_POSITIVE.format(name="max_iter", value=max_iter))
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> BehaviourModel:
        """Fit on X (n, d) with labels y (n,): 0/1, booleans or names ("normal" = normal)."""
        from sklearn.linear_model import LogisticRegression  # fitting only

        name = type(self).__name__
        check_rows(check_frame(X, name, "fit"), name, "fit")
        if y is None:
            raise DataError(f"{name}.fit: a supervised model needs labels y, got None")
        target = attack_mask(check_labels(y, len(X), name, "fit")).astype(int)
        if target.min() == target.max():
            raise DataError(f"{name}.fit: the labels need both normal and malicious rows")
        logged = _log(np.nan_to_num(feature_matrix(X, name, "fit")))
        self.feature_names_ = tuple(X.columns)
        self.mean_ = logged.mean(axis=0)
        self.scale_ = np.where(logged.std(axis=0) > 0, logged.std(axis=0), 1.0)
        model = LogisticRegression(C=self.C, class_weight="balanced", max_iter=self.max_iter)
        model.fit((logged - self.mean_) / self.scale_, target)
        self.coef_ = np.asarray(model.coef_[0], float)
        self.intercept_ = float(model.intercept_[0])
        return self

    def _z(self, X: pd.DataFrame, method: str) -> np.ndarray:
        check_fitted(self, method)
        logged = _log(np.nan_to_num(check_columns(self, X, method)))
        return np.asarray((logged - self.mean_) / self.scale_)

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """Log-odds that a channel window is malicious, shape (n,)."""
        return np.asarray(self._z(X, "suspicion") @ self.coef_ + self.intercept_)

    def explain(self, X: pd.DataFrame) -> Attributions:
        """``coef_j * z_j`` per feature; base the intercept."""
        values = self._z(X, "explain") * self.coef_
        return Attributions(self.feature_names_, values, np.full(len(values), self.intercept_))

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        return {
            "kind": self.kind,
            "params": self._params_state(),
            "feature_names": list(self.feature_names_),
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> BehaviourModel:
        detector = cls(**state["params"])
        detector.feature_names_ = tuple(state["feature_names"])
        detector.mean_ = np.asarray(state["mean"], float)
        detector.scale_ = np.asarray(state["scale"], float)
        detector.coef_ = np.asarray(state["coef"], float)
        detector.intercept_ = float(state["intercept"])
        return detector
