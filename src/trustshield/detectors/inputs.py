"""Input checks shared by detectors: what ``fit`` and ``suspicion`` accept, and the errors
they raise otherwise.

Every detector reads a pandas DataFrame with one named column per feature (names align
columns with the fitted ones and name the features an explanation speaks of); anything
else is a DataError. Values must be numbers and finite, except that NaN in a
categorical column is accepted: the feature encoder codes a category unseen at fit as
NaN, and detectors treat it as "missing". Labels have one entry per row. Every error is a
:class:`~trustshield.errors.DataError` naming the detector, the method and what was wrong.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import pandas as pd

from trustshield.errors import DataError

NOT_A_FRAME = ("{name}.{method}() expects a pandas DataFrame with one named column per "
               "feature (n rows, d columns); got {got}")
NOT_NUMERIC = "{name}.{method}(): column(s) {columns} are not numeric"
NOT_FINITE = ("{name}.{method}(): {what} in column {column!r}, row position {row} "
              "(NaN is accepted in categorical columns only)")
EMPTY = "{name}.{method}() needs at least one row; got an empty frame"
BAD_LABELS = "{name}.{method}(): {what} has {got} for {n} rows of X; expected one per row"


def check_frame(X, name: str, method: str) -> pd.DataFrame:
    """``X`` itself when it is a DataFrame; DataError otherwise."""
    if not isinstance(X, pd.DataFrame):
        raise DataError(NOT_A_FRAME.format(name=name, method=method, got=_described(X)))
    return X


def feature_matrix(X: pd.DataFrame, name: str, method: str,
                   categorical: Collection[str] = ()) -> np.ndarray:
    """X (n, d) as float64, checked: numeric columns, finite values except NaN in a
    ``categorical`` column. One pass over the values when all are finite."""
    try:
        matrix = X.to_numpy(dtype=np.float64)
    except (TypeError, ValueError):
        bad = [str(c) for c, dtype in X.dtypes.items() if dtype.kind not in "biuf"]
        raise DataError(NOT_NUMERIC.format(name=name, method=method, columns=bad)) from None
    if not np.isfinite(matrix).all():
        _check_finite(matrix, tuple(X.columns), name, method, categorical)
    return matrix


def check_rows(X: pd.DataFrame, name: str, method: str) -> None:
    """DataError when X has no row (nothing to fit on)."""
    if len(X) == 0:
        raise DataError(EMPTY.format(name=name, method=method))


def check_labels(y, n: int, name: str, method: str, what: str = "y") -> np.ndarray:
    """``y`` as a 1-D array of ``n`` labels; DataError naming the lengths otherwise."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != n:
        got = f"shape {labels.shape}" if labels.ndim != 1 else f"{len(labels)} entries"
        raise DataError(BAD_LABELS.format(name=name, method=method, what=what, got=got, n=n))
    return labels


def _check_finite(matrix: np.ndarray, columns: tuple, name: str, method: str,
                  categorical: Collection[str]) -> None:
    allowed = np.array([c in categorical for c in columns], dtype=bool)
    bad = ~np.isfinite(matrix) & ~(np.isnan(matrix) & allowed)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        value = matrix[row, column]
        what = "missing value (NaN)" if np.isnan(value) else f"infinite value {value}"
        raise DataError(NOT_FINITE.format(name=name, method=method, what=what,
                                          column=str(columns[column]), row=int(row)))


def _described(X) -> str:
    shape = getattr(X, "shape", None)
    return type(X).__name__ + (f" of shape {shape}" if shape is not None else "")
