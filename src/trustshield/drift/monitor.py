"""Drift monitor: has incoming traffic moved away from what the model was trained on?

:class:`DriftReference` is a compact, JSON-able summary of the training data per encoded
feature and of the model's training suspicion. :func:`drift` compares a window of incoming
records with it; :func:`trustshield.assess.drift_evidence.drift_evidence` turns the result
into Evidence. No labels needed.

Per feature (columns of the frame the detector sees, ``FeatureEncoder.transform`` output):

- numeric: quantile bin edges of the training values (``bins``, 10 by default; tied
  quantiles merge, so a mostly-zero counter gets fewer bins; each edge lies midway between
  two distinct training values, so a spike of tied values, such as suspicion raised to
  its floor, sits inside one bin rather than on an edge:
  :func:`~trustshield.drift.stats.tie_aware_edges`) with the training share per
  bin, plus a ``missing`` bucket for NaN and ±inf; and a sorted sample of at most
  ``sample_size`` (2,000) finite training values for the two-sample Kolmogorov–Smirnov
  statistic.
- categorical: the share per category (the ``max_categories`` most frequent; rarer ones
  go to ``other``) plus the ``other`` bucket, which also takes NaN and categories never
  seen in training (the encoder turns an unseen category into NaN).

Population stability index (PSI) between training shares e and window shares a over the
same buckets: ``Σ (a − e)·ln(a / e)``, unitless, ≥ 0, higher = more drift. Empty buckets
are clipped to ``PSI_EPSILON`` (1e-4) so the logarithm stays finite; shares are not
renormalised after clipping. Levels follow the usual industry (credit-scoring) convention:
PSI < 0.1 no significant change, 0.1 ≤ PSI < 0.25 ``moderate``, PSI ≥ 0.25 ``major``.
KS is the largest gap between the two empirical CDFs, in [0, 1]; it is not computed for
categorical features (their codes have no order). Sampling alone makes PSI over B
buckets read about (B − 1)/n on a window of n records (chi-square approximation): 0.02
for 10 bins at the ``MIN_WINDOW`` of 500 records, below which no verdict is given.

Output drift: the same PSI and KS on the suspicion distribution, and, given the model's
alert threshold (alert when suspicion ≥ threshold), the training and window alert rates.
``suspicion_floor`` (None: none) raises suspicion below it to it before either comparison,
for both training and window: below a floor where every record is plainly normal, score
differences can come from the model rather than the traffic (the reference's out-of-fold
models bottom out at slightly different margins than the deployed model) and are not drift.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trustshield.drift.stats import (
    MAJOR,
    MODERATE,
    PSI_EPSILON,
    category_shares,
    ks_statistic,
    level,
    numeric_shares,
    psi,
    tie_aware_edges,
)
from trustshield.errors import DataError, NotFittedError

__all__ = [
    "MAJOR",
    "MIN_WINDOW",
    "MODERATE",
    "PSI_EPSILON",
    "DriftReference",
    "DriftResult",
    "FeatureDrift",
    "drift",
    "ks_statistic",
    "level",
    "psi",
]

MIN_WINDOW = 500
OTHER, MISSING = "other", "missing"
SHAPE_MISMATCH = "expected suspicion of shape ({rows},), one value per row of X; got shape {shape}"
NOT_FITTED = (
    "DriftReference is not fitted yet: call fit(X, suspicion) on training data before {method}()"
)
NOT_A_FRAME = "expected X as a pandas DataFrame (n, d) of encoded features; got {got}"
EMPTY = "expected at least one record to {action}; got 0 rows"
COLUMNS = (
    "DriftReference was fitted on features {expected}; the window lacks {missing} "
    "and has unknown {unknown}"
)
UNKNOWN_FEATURE = "unknown feature {name!r}: expected one of {expected}"
BAD_STATE = "expected a DriftReference state with keys {expected}; got keys {got}"
STATE_KEYS = ("features", "suspicion", "threshold", "alert_rate", "n")


class DriftReference:
    """Training summary per feature and of suspicion; ``fit`` it, then pass it to :func:`drift`.

    ``categorical``: names of categorical columns (e.g. ``FeatureEncoder.categorical``);
    None takes the columns whose dtype is not numeric.
    """

    def __init__(
        self,
        *,
        categorical=None,
        bins: int = 10,
        sample_size: int = 2000,
        max_categories: int = 50,
        random_state: int = 0,
        suspicion_floor: float | None = None,
    ):
        self.categorical = categorical
        self.bins = bins
        self.sample_size = sample_size
        self.max_categories = max_categories
        self.random_state = random_state
        self.suspicion_floor = suspicion_floor

    def fit(self, X: pd.DataFrame, suspicion: np.ndarray, *, threshold: float | None = None):
        """X (n, d) encoded as the model sees it; suspicion (n,) of the model on X, higher =
        more suspicious; threshold: the model's alert threshold, if known."""
        if self.bins < 2 or self.sample_size < 1 or self.max_categories < 1:
            raise ValueError(
                f"expected bins ≥ 2, sample_size ≥ 1 and max_categories ≥ 1; "
                f"got {self.bins}, {self.sample_size} and {self.max_categories}"
            )
        _check_frame(X, "fit")
        suspicion = _scores(suspicion, len(X))
        categorical = _categorical(X, self.categorical)
        rng = np.random.default_rng(self.random_state)
        self.features_ = {
            name: (
                self._categorical_summary(X[name])
                if name in categorical
                else self._numeric_summary(X[name].to_numpy(np.float64), rng)
            )
            for name in X.columns
        }
        self.suspicion_ = self._numeric_summary(_floored(suspicion, self.suspicion_floor), rng)
        self.threshold_ = None if threshold is None else float(threshold)
        self.alert_rate_ = None if threshold is None else float(np.mean(suspicion >= threshold))
        self.n_ = len(X)
        return self

    def _numeric_summary(self, values: np.ndarray, rng) -> dict:
        present = values[np.isfinite(values)]
        edges = tie_aware_edges(present, self.bins)
        sample = (
            present
            if len(present) <= self.sample_size
            else rng.choice(present, self.sample_size, replace=False)
        )
        return {
            "kind": "numeric",
            "edges": edges.tolist(),
            "shares": numeric_shares(edges, values).tolist(),
            "sample": np.sort(sample).tolist(),
        }

    def _categorical_summary(self, column: pd.Series) -> dict:
        counts = column.dropna().value_counts(sort=True)
        counts = counts[counts > 0]  # a pandas Categorical lists unused ones too
        kept = sorted(counts.index[: self.max_categories].tolist(), key=str)
        return {
            "kind": "categorical",
            "categories": [_plain(v) for v in kept],
            "shares": category_shares(kept, column).tolist(),
        }

    def to_dict(self) -> dict:
        """Plain JSON-able state (lists, floats, strings)."""
        self._check_fitted("to_dict")
        return {
            "features": copy.deepcopy(self.features_),
            "suspicion": copy.deepcopy(self.suspicion_),
            "threshold": self.threshold_,
            "alert_rate": self.alert_rate_,
            "n": self.n_,
            "suspicion_floor": self.suspicion_floor,
        }

    @classmethod
    def from_dict(cls, state: dict) -> DriftReference:
        """The reference :meth:`to_dict` wrote; refuses a state missing any of STATE_KEYS."""
        if not isinstance(state, dict) or not set(STATE_KEYS) <= set(state):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise DataError(BAD_STATE.format(expected=list(STATE_KEYS), got=got))
        reference = cls()
        reference.features_ = dict(state["features"])
        reference.suspicion_ = state["suspicion"]
        reference.threshold_, reference.alert_rate_ = state["threshold"], state["alert_rate"]
        reference.n_ = state["n"]
        reference.suspicion_floor = state.get("suspicion_floor")  # absent from older states
        return reference

    def _check_fitted(self, method: str) -> None:
        if not hasattr(self, "features_"):
            raise NotFittedError(NOT_FITTED.format(method=method))


@dataclass(frozen=True)
class FeatureDrift:
    """One feature (or suspicion): PSI, KS (None for categorical), level, and the shares
    per bucket (training vs window) with the buckets' labels."""

    name: str
    kind: str
    psi: float
    ks: float | None
    level: str
    buckets: tuple[str, ...]
    reference_shares: tuple[float, ...]
    window_shares: tuple[float, ...]


@dataclass(frozen=True)
class DriftResult:
    """Drift of one window: ``features`` in training column order; ``output`` for the
    suspicion distribution (None without suspicion); alert rates are shares in [0, 1]."""

    features: tuple[FeatureDrift, ...]
    output: FeatureDrift | None
    n_reference: int
    n_window: int
    threshold: float | None = None
    reference_alert_rate: float | None = None
    window_alert_rate: float | None = None

    @property
    def alert_rate_change(self) -> float | None:
        """Window alert rate minus training alert rate (positive = more alerts)."""
        if self.window_alert_rate is None or self.reference_alert_rate is None:
            return None
        return self.window_alert_rate - self.reference_alert_rate

    def top(self, k: int = 5) -> list[FeatureDrift]:
        """The k features that moved most: highest PSI first, then highest KS, then name."""
        return sorted(self.features, key=lambda f: (-f.psi, -(f.ks or 0.0), f.name))[:k]

    @property
    def drifted(self) -> dict[str, str]:
        """{feature: "moderate" | "major"} for PSI ≥ MODERATE, most drifted first."""
        return {f.name: f.level for f in self.top(len(self.features)) if f.level != "none"}

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.name == name:
                return f
        raise DataError(UNKNOWN_FEATURE.format(name=name, expected=[f.name for f in self.features]))

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "alert_rate_change": self.alert_rate_change,
            "drifted": self.drifted,
        }


def drift(
    reference: DriftReference, X_window: pd.DataFrame, suspicion_window: np.ndarray | None = None
) -> DriftResult:
    """Compare a window (n, d), encoded like the training frame, with ``reference``;
    ``suspicion_window`` (n,) is the model's suspicion on it (None: no output drift)."""
    reference._check_fitted("drift")
    _check_frame(X_window, "compare")
    expected = list(reference.features_)
    missing = [c for c in expected if c not in X_window.columns]
    unknown = [c for c in X_window.columns if c not in reference.features_]
    if missing or unknown:
        raise DataError(COLUMNS.format(expected=expected, missing=missing, unknown=unknown))
    features = tuple(
        _compare(name, state, X_window[name]) for name, state in reference.features_.items()
    )
    result = DriftResult(features, None, reference.n_, len(X_window))
    if suspicion_window is None:
        return result
    scores = _scores(suspicion_window, len(X_window))
    output = _compare(
        "suspicion", reference.suspicion_, pd.Series(_floored(scores, reference.suspicion_floor))
    )
    rate = None if reference.threshold_ is None else float(np.mean(scores >= reference.threshold_))
    return DriftResult(
        features,
        output,
        reference.n_,
        len(X_window),
        reference.threshold_,
        reference.alert_rate_,
        rate,
    )


def _compare(name: str, state: dict, column: pd.Series) -> FeatureDrift:
    if state["kind"] == "categorical":
        kept = state["categories"]
        shares, ks = category_shares(kept, column), None
        buckets = tuple(str(v) for v in kept) + (OTHER,)
    else:
        values = column.to_numpy(np.float64)
        edges = np.asarray(state["edges"], dtype=np.float64)
        shares = numeric_shares(edges, values)
        present = values[np.isfinite(values)]
        ks = ks_statistic(state["sample"], present) if len(present) and state["sample"] else None
        bounds = ["-inf", *(f"{e:g}" for e in edges), "inf"]
        buckets = tuple(f"[{lo}, {hi})" for lo, hi in zip(bounds, bounds[1:])) + (MISSING,)
    value = psi(state["shares"], shares)
    return FeatureDrift(
        name,
        state["kind"],
        value,
        ks,
        level(value),
        buckets,
        tuple(state["shares"]),
        tuple(shares.tolist()),
    )


def _categorical(X: pd.DataFrame, names) -> set:
    if names is None:
        return {
            c
            for c in X.columns
            if not pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])
        }
    unknown = [n for n in names if n not in X.columns]
    if unknown:
        raise DataError(UNKNOWN_FEATURE.format(name=unknown[0], expected=list(X.columns)))
    return set(names)


def _check_frame(X, action: str) -> None:
    if not isinstance(X, pd.DataFrame):
        raise DataError(NOT_A_FRAME.format(got=type(X).__name__))
    if len(X) == 0:
        raise DataError(EMPTY.format(action=action))


def _scores(suspicion, rows: int) -> np.ndarray:
    scores = np.asarray(suspicion, dtype=np.float64)
    if scores.ndim != 1 or len(scores) != rows:
        raise DataError(SHAPE_MISMATCH.format(rows=rows, shape=scores.shape))
    return scores


def _floored(scores: np.ndarray, floor: float | None) -> np.ndarray:
    return scores if floor is None else np.maximum(scores, floor)


def _plain(value):
    """numpy scalars → Python scalars, so the state stays JSON-able."""
    return value.item() if isinstance(value, np.generic) else value
