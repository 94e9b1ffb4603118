"""Input checks shared by detectors: what ``fit`` and ``suspicion`` accept, and the errors
they raise otherwise.

Every detector reads a pandas DataFrame with one named column per feature (names align
columns with the fitted ones and name the features an explanation speaks of); anything
else is a DataError. Values must be numbers and never infinite. NaN means "missing":
the traffic detectors accept it in a categorical column when fitting (the feature encoder
codes a missing category as NaN) and in any column when scoring (an unseen category, or a
value lost in measurement, which the noise study measures); a one-user verifier accepts
it nowhere. Labels have one entry per row. Every error is a
:class:`~trustshield.errors.DataError` naming the detector, the method and what was wrong.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.errors import DataError

NOT_A_FRAME = (
    "{name}.{method}() expects a pandas DataFrame with one named column per "
    "feature (n rows, d columns); got {got}"
)
NOT_NUMERIC = "{name}.{method}(): column(s) {columns} are not numeric"
NOT_FINITE = "{name}.{method}(): {what} in column {column!r}, row position {row}{hint}"
NAN_HINT = " (NaN, missing, is accepted here in categorical columns only)"
EMPTY = "{name}.{method}() needs at least one row; got an empty frame"
BAD_LABELS = "{name}.{method}(): {what} has {got} for {n} rows of X; expected one per row"


def check_frame(X: object, name: str, method: str) -> pd.DataFrame:
    """``X`` itself when it is a DataFrame; DataError otherwise."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(NOT_A_FRAME.format(name=name, method=method, got=_described(X)))
    return X


def feature_matrix(
    X: pd.DataFrame, name: str, method: str, missing_ok: Collection[str] | bool = ()
) -> np.ndarray:
    """X (n, d) as float64, checked: numeric columns, no infinite value, NaN only in the
    ``missing_ok`` columns (True: any column). One pass over the values when all are
    finite."""
    try:
        matrix: np.ndarray = X.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        bad = [str(c) for c, dtype in X.dtypes.items() if dtype.kind not in "biuf"]
        raise DataError(NOT_NUMERIC.format(name=name, method=method, columns=bad)) from None
    if not np.isfinite(matrix).all():
        _check_finite(matrix, tuple(X.columns), name, method, missing_ok)
    return matrix


def check_rows(X: pd.DataFrame, name: str, method: str) -> None:
    """DataError when X has no row (nothing to fit on)."""
    if len(X) == 0:
        raise DataError(EMPTY.format(name=name, method=method))


def check_labels(y: npt.ArrayLike, n: int, name: str, method: str, what: str = "y") -> np.ndarray:
    """``y`` as a 1-D array of ``n`` labels; DataError naming the lengths otherwise."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n:
        got = f"shape {labels.shape}" if labels.ndim != 1 else f"{len(labels)} entries"
        raise DataError(BAD_LABELS.format(name=name, method=method, what=what, got=got, n=n))
    return labels


def _check_finite(
    matrix: np.ndarray,
    columns: tuple[Any, ...],
    name: str,
    method: str,
    missing_ok: Collection[str] | bool,
) -> None:
    allowed = np.array(
        [missing_ok is True or (missing_ok is not False and c in missing_ok) for c in columns],
        dtype=bool,
    )
    bad = ~np.isfinite(matrix) & ~(np.isnan(matrix) & allowed)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        value = matrix[row, column]
        nan = bool(np.isnan(value))
        raise DataError(
            NOT_FINITE.format(
                name=name,
                method=method,
                column=str(columns[column]),
                row=int(row),
                what="missing value (NaN)" if nan else f"infinite value {value}",
                hint=NAN_HINT if nan else "",
            )
        )


def _described(X: object) -> str:
    shape = getattr(X, "shape", None)
    return type(X).__name__ + (f" of shape {shape}" if shape is not None else "")
