"""``check_detector``: the detector protocol's promises, checked one by one on given data.

Like scikit-learn's ``check_estimator``, for TrustShield detectors: run it in the tests
of every detector kind (TrustShield's own tests run it on every registered kind). It
works on clones, so the detector passed in is left as it was.

``check_detector(detector, X, y)`` raises :class:`DetectorCheckError` (an AssertionError)
on the first promise broken, naming the check and what was expected; otherwise it returns
a :class:`CheckReport` listing the checks passed. The checks, in order:

``params``         ``get_params(deep=True)`` holds ``get_params(deep=False)``;
                   ``set_params`` returns the detector and keeps the values;
                   ``sklearn.base.clone`` gives an unfitted copy with equal parameters
``not_fitted``     ``suspicion`` and ``to_dict`` before ``fit`` raise NotFittedError
``fit``            ``fit(X, y)`` returns the detector itself and leaves X and y unchanged
``suspicion``      shape (n,), float, finite
``direction``      higher = more suspicious: rows that ``y`` marks as attacks (1, True, or
                   any label but "normal") score higher on average than the others
``deterministic``  the same rows score the same twice, and a second fit of a clone with
                   the same parameters gives the same scores
``json``           ``to_dict()`` is plain JSON (a strict ``json.dumps`` round trip gives
                   it back) holding the detector's ``kind``
``round_trip``     ``from_dict`` of that JSON (through the registry when the kind is
                   registered, which must name this class) scores identically
``explain``        a detector explains exactly: ``base + values.sum(axis=1)`` equals
                   suspicion within ``tolerance`` (relative to the scores' size), values
                   (n, d) named by the fitted features; or, when its class says it is not
                   additive (``additive = False``), ``explain`` raises NotExplainable
``input_errors``   bad input raises :class:`~trustshield.errors.DataError` with a message
                   (TrustShield's choice for every detector, rather than ValueError): a
                   NumPy array instead of a DataFrame (fit and suspicion), labels of
                   another length, a missing feature column (the message names it), a NaN
                   in a numeric feature column when fitting, an infinite value when scoring
                   (both skipped for a detector whose columns are all text or categorical)

``X`` is a DataFrame (n ≥ 4 rows) the detector can be fitted on, ``y`` (n,) labels with
both classes; keep them small, every check fits the detector again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.detectors.params import clone
from trustshield.detectors.protocol import Attributions, attack_mask
from trustshield.detectors.registry import detector_class, kinds
from trustshield.errors import DataError, NotExplainable, NotFittedError

CHECKS = (
    "params",
    "not_fitted",
    "fit",
    "suspicion",
    "direction",
    "deterministic",
    "json",
    "round_trip",
    "explain",
    "input_errors",
)


class DetectorCheckError(AssertionError):
    """A detector broke one of the protocol's promises; ``check`` names which."""

    def __init__(self, check: str, detector: object, message: str):
        self.check = check
        super().__init__(f"check_detector[{check}] {type(detector).__name__}: {message}")


@dataclass(frozen=True)
class CheckReport:
    """What ``check_detector`` verified: the detector's kind, whether it is registered
    under that kind, whether it explains exactly, and the checks passed (in order)."""

    kind: str
    registered: bool
    explainable: bool
    passed: tuple[str, ...]


def check_detector(detector, X: pd.DataFrame, y, *, tolerance: float = 1e-6) -> CheckReport:
    """Check every promise of the detector protocol on ``X`` (n, d) and labels ``y`` (n,);
    see the module docstring. Raises DetectorCheckError on the first failure."""
    y = _check_data(X, y)
    passed: list[str] = []

    def ok(check: str) -> None:
        passed.append(check)

    _check_params(detector)
    ok("params")
    _check_not_fitted(clone(detector), X)
    ok("not_fitted")
    fitted = _check_fit(clone(detector), X, y)
    ok("fit")
    scores = _check_suspicion(fitted, X)
    ok("suspicion")
    _check_direction(fitted, scores, y)
    ok("direction")
    _check_deterministic(detector, fitted, X, y, scores)
    ok("deterministic")
    state = _check_json(fitted)
    ok("json")
    registered = _check_round_trip(fitted, state, X, scores)
    ok("round_trip")
    explainable = _check_explain(fitted, X, scores, tolerance)
    ok("explain")
    _check_input_errors(detector, fitted, X, y)
    ok("input_errors")
    return CheckReport(
        kind=fitted.kind, registered=registered, explainable=explainable, passed=tuple(passed)
    )


def _fail(check: str, detector, message: str) -> DetectorCheckError:
    return DetectorCheckError(check, detector, message)


def _check_data(X, y) -> np.ndarray:
    if not isinstance(X, pd.DataFrame) or len(X) < 4:
        raise DataError(
            "check_detector needs X as a DataFrame of at least 4 rows; got "
            f"{type(X).__name__} of {len(X) if hasattr(X, '__len__') else '?'} rows"
        )
    y = np.asarray(y)
    if y.shape != (len(X),):
        raise DataError(
            f"check_detector needs y with one label per row of X ({len(X)}); got shape {y.shape}"
        )
    attack = attack_mask(y)
    if attack.all() or not attack.any():
        raise DataError(
            "check_detector needs y to mark both attack rows (1, True or a label "
            "other than 'normal') and normal rows"
        )
    return y


def _check_params(detector) -> None:
    from sklearn.base import clone as sklearn_clone  # a dependency; tests only

    shallow, deep = detector.get_params(deep=False), detector.get_params(deep=True)
    missing = [k for k in shallow if k not in deep or deep[k] is not shallow[k]]
    if missing:
        raise _fail("params", detector, f"get_params(deep=True) lacks or changes {missing}")
    if detector.set_params(**shallow) is not detector:
        raise _fail("params", detector, "set_params(**params) must return the detector")
    if not _same_params(detector.get_params(deep=False), shallow):
        raise _fail("params", detector, "set_params(**get_params()) changed the parameters")
    try:
        copy = sklearn_clone(detector)
    except Exception as exc:  # any failure is the finding
        raise _fail("params", detector, f"sklearn.base.clone failed: {exc}") from exc
    if type(copy) is not type(detector) or not _same_params(copy.get_params(deep=False), shallow):
        raise _fail("params", detector, "sklearn.base.clone gave other parameters")
    if _is_fitted(copy):
        raise _fail("params", detector, "sklearn.base.clone kept learned state")


def _check_not_fitted(fresh, X: pd.DataFrame) -> None:
    for method, call in (("suspicion", lambda: fresh.suspicion(X)), ("to_dict", fresh.to_dict)):
        try:
            call()
        except NotFittedError as exc:
            if not str(exc):
                raise _fail(
                    "not_fitted", fresh, f"{method}() raised NotFittedError without a message"
                ) from exc
            continue
        except Exception as exc:
            raise _fail(
                "not_fitted",
                fresh,
                f"{method}() before fit raised {type(exc).__name__}, not NotFittedError: {exc}",
            ) from exc
        raise _fail("not_fitted", fresh, f"{method}() before fit raised nothing")


def _check_fit(fresh, X: pd.DataFrame, y: np.ndarray):
    X_before, y_before = X.copy(), y.copy()
    if fresh.fit(X, y) is not fresh:
        raise _fail("fit", fresh, "fit(X, y) must return the detector itself")
    if not X.equals(X_before) or not np.array_equal(y, y_before):
        raise _fail("fit", fresh, "fit changed its input X or y")
    return fresh


def _check_suspicion(fitted, X: pd.DataFrame) -> np.ndarray:
    X_before = X.copy()
    scores = fitted.suspicion(X)
    if not isinstance(scores, np.ndarray) or scores.shape != (len(X),):
        raise _fail(
            "suspicion",
            fitted,
            f"expected an array of shape ({len(X)},); got "
            f"{type(scores).__name__} {np.shape(scores)}",
        )
    if scores.dtype.kind != "f" or not np.isfinite(scores).all():
        raise _fail(
            "suspicion",
            fitted,
            "expected finite float scores; got dtype "
            f"{scores.dtype}, {int((~np.isfinite(scores)).sum())}"
            " not finite",
        )
    if not X.equals(X_before):
        raise _fail("suspicion", fitted, "suspicion changed its input X")
    return scores


def _check_direction(fitted, scores: np.ndarray, y: np.ndarray) -> None:
    attack = attack_mask(y)
    high, low = float(scores[attack].mean()), float(scores[~attack].mean())
    if not high > low:
        raise _fail(
            "direction",
            fitted,
            f"higher must mean more suspicious: attack rows "
            f"average {high:.6g}, normal rows {low:.6g}",
        )


def _check_deterministic(detector, fitted, X, y, scores: np.ndarray) -> None:
    if not np.array_equal(fitted.suspicion(X), scores):
        raise _fail("deterministic", fitted, "the same rows scored twice gave other scores")
    if not np.array_equal(clone(detector).fit(X, y).suspicion(X), scores):
        raise _fail(
            "deterministic",
            fitted,
            "a second fit with the same parameters and data gave other scores",
        )


def _check_json(fitted) -> dict:
    state = fitted.to_dict()
    try:
        text = json.dumps(state, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise _fail("json", fitted, f"to_dict() is not plain JSON: {exc}") from exc
    if json.loads(text) != state:
        raise _fail(
            "json",
            fitted,
            "to_dict() changes through JSON (tuples, non-string keys or numpy values?)",
        )
    if state.get("kind") != getattr(fitted, "kind", None):
        raise _fail(
            "json",
            fitted,
            f"to_dict() must hold kind {getattr(fitted, 'kind', None)!r}"
            f"; got {state.get('kind')!r}",
        )
    return json.loads(text)


def _check_round_trip(fitted, state: dict, X: pd.DataFrame, scores: np.ndarray) -> bool:
    registered = state["kind"] in kinds()
    if registered and detector_class(state["kind"]) is not type(fitted):
        raise _fail(
            "round_trip",
            fitted,
            f"kind {state['kind']!r} is registered to {detector_class(state['kind']).__name__}",
        )
    restored = type(fitted).from_dict(state)
    if type(restored) is not type(fitted):
        raise _fail("round_trip", fitted, f"from_dict gave a {type(restored).__name__}")
    again = restored.suspicion(X)
    if not np.array_equal(again, scores):
        worst = float(np.max(np.abs(again - scores))) if again.shape == scores.shape else None
        raise _fail(
            "round_trip",
            fitted,
            f"from_dict(to_dict()) scores differently (largest difference {worst})",
        )
    return registered


def _check_explain(fitted, X: pd.DataFrame, scores: np.ndarray, tolerance: float) -> bool:
    additive = getattr(type(fitted), "additive", True)
    try:
        attributions = fitted.explain(X)
    except NotExplainable as exc:
        if additive:
            raise _fail(
                "explain",
                fitted,
                "raised NotExplainable but its class does not say additive = False",
            ) from exc
        return False
    if not additive:
        raise _fail("explain", fitted, "additive = False, yet explain() returned attributions")
    if not isinstance(attributions, Attributions):
        raise _fail("explain", fitted, f"expected Attributions; got {type(attributions).__name__}")
    names = tuple(fitted.feature_names_)
    if attributions.values.shape != (len(X), len(names)) or attributions.base.shape != (len(X),):
        raise _fail(
            "explain",
            fitted,
            f"expected values ({len(X)}, {len(names)}) and base "
            f"({len(X)},); got {attributions.values.shape} and "
            f"{attributions.base.shape}",
        )
    if tuple(attributions.feature_names) != names:
        raise _fail("explain", fitted, "attributions are not named by the fitted features")
    gap = float(np.max(np.abs(attributions.total() - scores)))
    if gap > tolerance * max(1.0, float(np.max(np.abs(scores)))):
        raise _fail("explain", fitted, f"base + values.sum(axis=1) misses suspicion by {gap:.3g}")
    return True


def _check_input_errors(detector, fitted, X: pd.DataFrame, y: np.ndarray) -> None:
    names = list(fitted.feature_names_)
    categorical = set(getattr(fitted, "categorical", ()))
    numeric = next((n for n in names if n not in categorical and X[n].dtype.kind in "biuf"), None)
    cases = [
        ("fit on a NumPy array", lambda: clone(detector).fit(X.to_numpy(), y), None),
        ("fit with one label too few", lambda: clone(detector).fit(X, y[:-1]), None),
        ("suspicion of a NumPy array", lambda: fitted.suspicion(X[names].to_numpy()), None),
        (
            f"suspicion without column {names[-1]!r}",
            lambda: fitted.suspicion(X.drop(columns=[names[-1]])),
            names[-1],
        ),
    ]
    if numeric is not None:
        with_nan, with_inf = (_with_value(X, numeric, value) for value in (np.nan, np.inf))
        cases += [
            (
                f"fit with NaN in numeric column {numeric!r}",
                lambda: clone(detector).fit(with_nan, y),
                numeric,
            ),
            (
                f"suspicion with infinity in numeric column {numeric!r}",
                lambda: fitted.suspicion(with_inf),
                numeric,
            ),
        ]
    for what, call, named in cases:
        try:
            call()
        except DataError as exc:
            if not str(exc) or (named is not None and named not in str(exc)):
                message = f"{what}: the DataError should name {named or 'the problem'}"
                raise _fail("input_errors", fitted, f"{message}; got {exc!r}") from exc
            continue
        except Exception as exc:
            raise _fail(
                "input_errors", fitted, f"{what} raised {type(exc).__name__}, not DataError: {exc}"
            ) from exc
        raise _fail("input_errors", fitted, f"{what} raised no error")


def _with_value(X: pd.DataFrame, column: str, value: float) -> pd.DataFrame:
    """A copy of X with ``value`` in the first row of ``column``."""
    out = X.astype({column: np.float64})
    out.iloc[0, out.columns.get_loc(column)] = value
    return out


def _is_fitted(detector) -> bool:
    return any(name.endswith("_") and not name.startswith("_") for name in vars(detector))


def _same_params(a: dict, b: dict) -> bool:
    """Equal parameters; a part (anything with get_params) compares by type and params."""
    if a.keys() != b.keys():
        return False
    for key in a:
        x, y = a[key], b[key]
        if hasattr(x, "get_params") and not isinstance(x, type):
            if type(x) is not type(y) or not _same_params(
                x.get_params(deep=False), y.get_params(deep=False)
            ):
                return False
        elif not _equal(x, y):
            return False
    return True


def _equal(x, y) -> bool:
    try:
        return bool(x == y)
    except (TypeError, ValueError):  # e.g. arrays: compare by value
        return bool(np.array_equal(x, y))
