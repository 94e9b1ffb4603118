"""What every keystroke verifier shares: one user's profile, fitted on that user's
enrolment typings, scoring new typings with suspicion (higher = less like the user).

A subclass learns its profile in ``_learn(matrix)`` and scores in one of two ways:

- additive (``additive = True``): ``_terms(matrix)`` gives one non-negative-or-signed term
  per feature, suspicion is their sum, and ``explain`` returns those terms minus the
  user's typical term (the mean over the enrolment typings), with that typical total as
  the base. So ``base + values.sum(axis=1)`` is exactly the suspicion, and a positive value
  says "this feature departs from the profile more than it usually does for this user";
- not additive: ``_score(matrix)``; ``explain`` raises :class:`NotExplainable`.

A ``separable`` verifier's terms each depend on one feature's value alone (not Mahalanobis,
whose terms share cross products, nor k-means, whose nearest centroid depends on every
feature): :meth:`range_ceiling` then gives exactly the highest suspicion any typing inside
a per-feature range (the enrolment typings' minimum to maximum) can get, which the
enrolment guard uses so that no such typing is ever denied.

State is plain JSON (``to_dict`` / ``from_dict``): kind, parameters, feature names and the
learned arrays named in ``_learned``; templates are encrypted at rest by the store. Each
concrete verifier is registered by kind (:func:`trustshield.detectors.registry.register`).
Error messages name columns and counts but never quote typing values (biometric data).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.inputs import check_labels
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import Attributions, attack_mask, check_fitted
from trustshield.errors import WRONG_COLUMNS, DataError, ModelIntegrityError, NotExplainable

NOT_A_FRAME = (
    "{name}.{method}() expects a pandas DataFrame with one row per typing and one "
    "numeric column per feature; got {got}"
)
NOT_NUMERIC = (
    "{name}.{method}(): column(s) {columns} hold missing, non-numeric or infinite "
    "values (values not shown: typings are biometric data)"
)
TOO_FEW = "{name} needs at least {need} enrolment typings to fit, got {got}"
NO_EXPLANATION = (
    "{name} has no exact per-feature explanation: its score is not a sum over "
    "features; use an additive verifier to explain verdicts"
)
WRONG_KIND = "state of kind {got!r} cannot be loaded as {name} (kind {expected!r})"


class KeystrokeProfile(Parameters):
    """Base class: validation, fitting bookkeeping, explanation and JSON state."""

    kind: ClassVar[str] = ""  # set by @register on each concrete verifier
    additive: ClassVar[bool] = True
    separable: ClassVar[bool] = False
    _learned: ClassVar[tuple[str, ...]] = ()

    @property
    def min_enrolment(self) -> int:
        """The fewest enrolment typings :meth:`fit` accepts."""
        return 2

    # ------------------------------------------------------------------ public protocol
    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> KeystrokeProfile:
        """Learn the user's profile from enrolment typings ``X`` (n, d). With labels ``y``
        (n,) (0 or "normal" = the user's typing, anything else another person's), only the
        user's typings are learned from, as a one-user verifier is enrolled."""
        matrix = typings_matrix(X, type(self).__name__, "fit")
        if y is not None:
            matrix = matrix[~attack_mask(check_labels(y, len(matrix), type(self).__name__, "fit"))]
        if len(matrix) < self.min_enrolment:
            raise DataError(
                TOO_FEW.format(name=type(self).__name__, need=self.min_enrolment, got=len(matrix))
            )
        self.feature_names_ = tuple(str(c) for c in X.columns)
        self._learn(matrix)
        if self.additive:
            self.typical_ = self._terms(matrix).mean(axis=0)
        return self

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """One score per typing, shape (n,), finite; higher = less like the enrolled user."""
        matrix = self._checked(X, "suspicion")
        if self.additive:
            return np.asarray(self._terms(matrix).sum(axis=1))
        return self._score(matrix)

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Exact per-feature contributions relative to the user's typical typing."""
        if not self.additive:
            raise NotExplainable(NO_EXPLANATION.format(name=type(self).__name__))
        matrix = self._checked(X, "explain")
        terms = self._terms(matrix)
        base = np.full(len(matrix), float(self.typical_.sum()))
        return Attributions(
            self.feature_names_, terms - self.typical_, base, self._reference(matrix)
        )

    def range_ceiling(self, X: pd.DataFrame) -> float | None:
        """The highest suspicion of any typing whose every feature lies between the
        minimum and the maximum of that feature over ``X`` (n, d), e.g. the enrolment
        typings; None when the verifier is not separable (no exact answer)."""
        if not self.separable:
            return None
        matrix = self._checked(X, "range_ceiling")
        candidates = self._range_points(matrix.min(axis=0), matrix.max(axis=0))
        return float(self._terms(candidates).max(axis=0).sum())

    def _params_state(self) -> dict[str, Any]:
        """Parameters as plain JSON, as templates hold them."""
        return {name: _plain(value) for name, value in self.get_params(deep=False).items()}

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        learned = list(self._learned) + (["typical_"] if self.additive else [])
        return {
            "kind": self.kind,
            "params": self._params_state(),
            "feature_names": list(self.feature_names_),
            "state": {name: getattr(self, name).tolist() for name in learned},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> KeystrokeProfile:
        if state.get("kind") != cls.kind:
            raise ModelIntegrityError(
                WRONG_KIND.format(got=state.get("kind"), name=cls.__name__, expected=cls.kind)
            )
        verifier = cls(**state["params"])
        verifier.feature_names_ = tuple(state["feature_names"])
        for name, value in state["state"].items():
            setattr(verifier, name, np.asarray(value, dtype=np.float64))
        verifier._restore()
        return verifier

    # ------------------------------------------------------------------ subclass hooks
    def _learn(self, matrix: np.ndarray) -> None:
        raise NotImplementedError

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _score(self, matrix: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _reference(self, matrix: np.ndarray) -> np.ndarray | None:
        """What each row was compared with, in raw feature units (n, d), or None."""
        return None

    def _restore(self) -> None:
        """Rebuild derived (not stored) state after ``from_dict``."""

    def _range_points(self, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        """Candidate values (k, d), each column within [low_j, high_j], among which every
        term peaks over that interval. The ends suffice for a term that grows with the
        distance from one centre (the classic separable verifiers)."""
        return np.vstack([low, high])

    # ------------------------------------------------------------------ helpers
    def _checked(self, X: pd.DataFrame, method: str) -> np.ndarray:
        """The fitted columns of ``X`` (extra columns are ignored) as a float matrix."""
        check_fitted(self, method)
        name = type(self).__name__
        if not isinstance(X, pd.DataFrame):
            raise DataError(NOT_A_FRAME.format(name=name, method=method, got=type(X).__name__))
        if X.columns.equals(self._feature_index()):  # the common case: no reindexing
            return typings_matrix(X, name, method)
        if any(n not in X.columns for n in self.feature_names_):
            raise DataError(
                WRONG_COLUMNS.format(
                    name=name, expected=list(self.feature_names_), got=[str(c) for c in X.columns]
                )
            )
        return typings_matrix(X[list(self.feature_names_)], name, method)

    def _feature_index(self) -> pd.Index:
        """The fitted feature names as an Index (kept, not stored: compared on every call)."""
        if getattr(self, "_index_of", None) is not self.feature_names_:
            self._index, self._index_of = (
                pd.Index(self.feature_names_, dtype=object),
                self.feature_names_,
            )
        return self._index


def typings_matrix(X: object, name: str, method: str) -> np.ndarray:
    """``X`` as a float matrix, or a DataError naming the columns that are not numbers."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(NOT_A_FRAME.format(name=name, method=method, got=type(X).__name__))
    raw = X.to_numpy()  # one numeric dtype when the columns share one (the common case)
    numeric = raw.dtype.kind in "biuf" or all(
        dtype.kind in "biuf" for dtype in X.dtypes.to_numpy()
    )  # e.g. bool beside int
    if numeric:
        matrix: np.ndarray = (
            raw.astype(np.float64) if raw.dtype.kind in "biuf" else X.to_numpy(dtype=np.float64)
        )
        if np.isfinite(matrix).all():
            return matrix
    raise DataError(NOT_NUMERIC.format(name=name, method=method, columns=_bad_columns(X)))


def _bad_columns(X: pd.DataFrame) -> list[str]:
    numeric = X.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    return [str(c) for c, ok in zip(X.columns, np.isfinite(numeric).all(axis=0)) if not ok]


def floor_scale(scale: np.ndarray, centre: np.ndarray, relative: float = 1e-6) -> np.ndarray:
    """Spread kept strictly positive: at least ``relative`` of the centre's magnitude (and of
    1), so a feature that never varied during enrolment still gives finite scores."""
    return np.asarray(np.maximum(scale, relative * np.maximum(np.abs(centre), 1.0)))


def _plain(value: Any) -> Any:
    """Parameters as JSON values (tuples become lists, mappings plain dicts)."""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return {str(k): float(v) for k, v in value.items()}
    return value
