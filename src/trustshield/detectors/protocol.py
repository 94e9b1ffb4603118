"""The Detector protocol and the attributions every detector returns.

A detector scores records; it never thresholds them (that is ``decide/``'s job).
Suspicion has shape (n,), is finite, and higher means more suspicious.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

from trustshield.errors import NOT_FITTED, WRONG_COLUMNS, DataError, NotFittedError


@dataclass(frozen=True)
class Attributions:
    """Exact additive explanation of raw suspicion.

    ``values`` has shape (n, n_features), ``base`` shape (n,); for every row
    ``base + values.sum(axis=1)`` equals the detector's suspicion (to 1e-6). Positive
    values push towards "suspicious", negative towards "normal". ``reference`` (n,
    n_features), when a detector explains by comparison, holds what each row was compared
    with, in encoded feature units (NaN rows: no comparison).
    """

    feature_names: tuple[str, ...]
    values: np.ndarray
    base: np.ndarray
    reference: np.ndarray | None = None

    def total(self) -> np.ndarray:
        return self.base + self.values.sum(axis=1)


@runtime_checkable
class Detector(Protocol):
    """fit → suspicion → explain; see the conformance suite in tests/detectors."""

    def fit(self, X: pd.DataFrame, y: np.ndarray | None = None) -> Detector: ...

    def suspicion(self, X: pd.DataFrame) -> np.ndarray: ...

    def explain(self, X: pd.DataFrame) -> Attributions: ...

    def to_dict(self) -> dict: ...


def attack_mask(y: Sequence | np.ndarray, normal_label: str = "normal") -> np.ndarray:
    """Binary target from labels: True for attacks. Accepts 0/1, bools or label strings."""
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        return y.astype(bool)
    return y != normal_label


def check_fitted(detector: object, method: str) -> None:
    if not hasattr(detector, "feature_names_"):
        raise NotFittedError(NOT_FITTED.format(name=type(detector).__name__, method=method))


def check_columns(detector: object, X: pd.DataFrame) -> np.ndarray:
    """The matrix of ``X`` in fit-time column order; a clear error on another column set."""
    names = tuple(X.columns)
    if names != detector.feature_names_:
        if set(names) >= set(detector.feature_names_):
            X = X[list(detector.feature_names_)]
        else:
            raise DataError(WRONG_COLUMNS.format(name=type(detector).__name__,
                                                 expected=list(detector.feature_names_),
                                                 got=list(names)))
    return X.to_numpy(dtype=np.float64)
