"""The Detector protocol and the attributions every detector returns.

A detector scores records; it never thresholds them (that is ``decide/``'s job).
Suspicion has shape (n,), is finite, and higher means more suspicious. Every detector
kind is registered by kind (:mod:`trustshield.detectors.registry`) and passes
:func:`trustshield.testing.check_detector`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.inputs import check_frame, feature_matrix
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
        return np.asarray(self.base + self.values.sum(axis=1))


@runtime_checkable
class Detector(Protocol):
    """What every detector kind implements (checked by ``trustshield.testing.check_detector``).

    - ``fit(X, y=None) -> self``: X a DataFrame (n, d) with named feature columns, y (n,)
      labels (0/1, booleans, or label strings where "normal" is normal) or None;
    - ``suspicion(X) -> (n,)``: finite, higher = more suspicious (less like the user, for
      a one-user verifier);
    - ``explain(X) -> Attributions``: exact, ``total()`` equals suspicion; a detector whose
      score is no sum over features raises NotExplainable;
    - ``to_dict()``: plain JSON holding ``"kind"``; the class method ``from_dict(state)``
      rebuilds a detector that scores identically;
    - ``get_params(deep=True)`` / ``set_params(**params)``: scikit-learn style, so that
      ``sklearn.base.clone`` works.

    Bad input (not a DataFrame, wrong columns, non-numeric or infinite values, NaN where
    the detector has no meaning for a missing value, labels of another length) raises
    DataError; use before ``fit`` raises NotFittedError.
    """

    kind: ClassVar[str]

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> Detector: ...

    def suspicion(self, X: pd.DataFrame) -> np.ndarray: ...

    def explain(self, X: pd.DataFrame) -> Attributions: ...

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Detector: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...

    def set_params(self, **params: Any) -> Detector: ...


class Fitted(Protocol):
    """A fitted detector: the feature names it was fitted on, in column order."""

    feature_names_: tuple[str, ...]


@runtime_checkable
class Composite(Detector, Protocol):
    """A detector made of other detectors, which it exposes by role (e.g. "supervised").

    Its suspicion is the row maximum of its *part scores*: each part's raw suspicion put
    on one common scale (1 = that part's operating point, higher = more suspicious); the
    column of the maximum names the part that set a row's suspicion. Columns follow the
    order of :meth:`parts`.
    """

    def parts(self) -> Mapping[str, Detector]:
        """The component detectors by role, in the column order of part scores."""
        ...

    def part_scores(self, X: pd.DataFrame) -> np.ndarray:
        """Part scores of X (n, d), shape (n, k) for k parts; ``suspicion(X)`` equals
        their row maximum exactly."""
        ...

    def scaled(self, raw: np.ndarray) -> np.ndarray:
        """Raw part suspicion (n, k) → part scores (n, k) on the common scale."""
        ...

    def normal_out_of_fold(self) -> np.ndarray:
        """Raw part suspicion (m, k) of the m normal training rows, each scored by models
        that did not see it; known after ``fit`` only (not saved by ``to_dict``)."""
        ...

    def explain(self, X: pd.DataFrame, scaled: np.ndarray | None = None) -> Attributions:
        """As :meth:`Detector.explain`; ``scaled`` (n, k), when the caller already has
        ``part_scores(X)``, saves scoring the rows again."""
        ...


def parts_of(detector: Detector) -> tuple[Detector, ...]:
    """A composite's parts (in :meth:`Composite.parts` order); () for any other detector."""
    return tuple(detector.parts().values()) if isinstance(detector, Composite) else ()


def part_scores_of(detector: Detector, X: pd.DataFrame) -> np.ndarray:
    """(n, k) scores of X (n, d) whose row maximum is the detector's suspicion and whose
    argmax names the part that set it: a composite's part scores; for any other detector
    its suspicion as one column (k = 1). Higher = more suspicious."""
    if isinstance(detector, Composite):
        return detector.part_scores(X)
    return detector.suspicion(X)[:, None]


#: the label that marks normal records for every detector (a pipeline maps its data set's
#: own normal label, e.g. "BENIGN", to it before fitting)
NORMAL = "normal"


def attack_mask(y: npt.ArrayLike) -> np.ndarray:
    """Binary target from labels (n,): True for attacks. Accepts 0/1, bools or label
    strings where :data:`NORMAL` marks normal records."""
    y = np.asarray(y)
    if y.dtype.kind in "biuf":
        return y.astype(bool)
    return np.asarray(y != NORMAL)


def check_fitted(detector: object, method: str) -> None:
    if not hasattr(detector, "feature_names_"):
        raise NotFittedError(NOT_FITTED.format(name=type(detector).__name__, method=method))


def check_columns(detector: Fitted, X: pd.DataFrame, method: str = "suspicion") -> np.ndarray:
    """The matrix of ``X`` in fit-time column order, checked for scoring (see ``inputs``:
    NaN is a missing value, infinity an error); a clear error on another column set.
    Extra columns are ignored."""
    name = type(detector).__name__
    check_frame(X, name, method)
    names = tuple(X.columns)
    if names != detector.feature_names_:
        if set(names) >= set(detector.feature_names_):
            X = X[list(detector.feature_names_)]
        else:
            raise DataError(
                WRONG_COLUMNS.format(
                    name=name, expected=list(detector.feature_names_), got=list(names)
                )
            )
    return feature_matrix(X, name, method, missing_ok=True)
