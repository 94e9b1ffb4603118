"""Check records against a DatasetSpec: a pure function of a frame to a clean frame.

Every problem names the file, the line, the column, the value and what was expected.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.specs import ColumnSpec, DatasetSpec

MISSING_VALUE = "a value (the field is empty)"


@dataclass(frozen=True)
class RowProblem:
    """One rejected field: where it is, what it held and what the spec expected."""

    file: str
    line: int
    column: str
    value: str
    expected: str

    def message(self) -> str:
        return (f"{self.file}: line {self.line}, column {self.column!r}: "
                f"got {self.value!r}, expected {self.expected}")


@dataclass(frozen=True)
class CheckedFrame:
    """Rows that passed (typed per spec), their file line numbers, and the problems found."""

    frame: pd.DataFrame
    lines: np.ndarray  # int64, shape (len(frame),)
    problems: tuple[RowProblem, ...]
    rejected_rows: int


def check_frame(raw: pd.DataFrame, spec: DatasetSpec, *, file: str,
                lines: np.ndarray) -> CheckedFrame:
    """Validate ``raw`` (one batch as read) against ``spec``.

    ``lines`` holds the file line number of each raw row (shape (n,)). Numeric columns come
    back as float64, categorical and label columns as str. Columns of the spec absent from
    ``raw`` are allowed only for label and metadata roles.
    """
    checked: dict[str, pd.Series] = {}
    bad = np.zeros(len(raw), dtype=bool)
    problems: list[RowProblem] = []
    for col in spec.columns:
        if col.name not in raw.columns:
            continue
        values, mask, expected = _check_column(raw[col.name], col)
        checked[col.name] = values
        _collect(problems, raw[col.name], mask, col.name, expected, file, lines)
        bad |= mask
    frame = pd.DataFrame(checked, index=raw.index)
    for relation in spec.relations:
        if not all(c in frame.columns for c in relation.involved()):
            continue
        mask = relation.violated(frame) & ~bad
        shown = pd.Series("", index=raw.index, dtype=object)
        for i in np.flatnonzero(mask):
            shown.iloc[i] = ", ".join(f"{c}={raw[c].iloc[i]}" for c in relation.involved())
        _collect(problems, shown, mask, "+".join(relation.involved()),
                 f"relation '{relation.name}': {relation.describe()}", file, lines)
        bad |= mask
    problems.sort(key=lambda p: p.line)
    keep = ~bad
    return CheckedFrame(frame=frame[keep].reset_index(drop=True), lines=lines[keep],
                        problems=tuple(problems), rejected_rows=int(bad.sum()))


def _check_column(raw: pd.Series, col: ColumnSpec) -> tuple[pd.Series, np.ndarray, str]:
    """Typed values, a mask of invalid rows, and the expectation for messages."""
    expected = col.expected()
    if not col.is_numeric:
        text = raw.astype("string")
        missing = text.isna().to_numpy()
        if col.type == "categorical":
            invalid = missing | ~text.isin(col.values).to_numpy()
        else:
            invalid = missing | (text.str.len() == 0).fillna(True).to_numpy()
            expected = "a non-empty label"
        return text.astype(object), invalid, expected
    numbers = pd.to_numeric(raw, errors="coerce").astype("float64")
    values = numbers.to_numpy()
    lo, hi = col.bounds()
    with np.errstate(invalid="ignore"):
        invalid = ~np.isfinite(values) | (values < lo) | (values > hi)
        if col.type in ("integer", "binary"):
            invalid |= values != np.floor(values)
    return numbers, invalid, expected


def _collect(problems: list[RowProblem], raw: pd.Series, mask: np.ndarray, column: str,
             expected: str, file: str, lines: np.ndarray) -> None:
    if not mask.any():
        return
    missing = raw.isna().to_numpy()
    for i in np.flatnonzero(mask):
        value = "" if missing[i] else str(raw.iloc[i])
        problems.append(RowProblem(file, int(lines[i]), column, value,
                                   MISSING_VALUE if missing[i] else expected))
