"""Check records against a DatasetSpec: a pure function of a frame to a clean frame.

Every problem names the file, the line, the column, the value and what was expected.
Numeric columns are parsed and range-checked as one (n, k) block, so a batch of 100
records costs a few array operations, not a few per column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.specs import ColumnSpec, DatasetSpec

MISSING_VALUE = "a value (the field is empty)"
#: characters of a rejected value an error message quotes
SHOWN_CHARACTERS = 80
NON_EMPTY_LABEL = "a non-empty label of at most {limit} characters"
EMPTY_FILE = "{file}: the file is empty ({found}); expected {expected}"
NO_ROWS = "{file}: no data rows after the header"
#: a byte order mark and the ASCII white space: what a file that holds nothing else holds
BLANK = b"\xef\xbb\xbf \t\r\n\x0b\x0c"


@dataclass(frozen=True)
class RowProblem:
    """One rejected field: where it is, what it held and what the spec expected."""

    file: str
    line: int
    column: str
    value: str
    expected: str

    def message(self) -> str:
        """The problem in one line; a value longer than SHOWN_CHARACTERS is cut short."""
        value = (
            repr(self.value)
            if len(self.value) <= SHOWN_CHARACTERS
            else f"{self.value[:SHOWN_CHARACTERS]!r}... ({len(self.value):,} characters)"
        )
        return (
            f"{self.file}: line {self.line}, column {self.column!r}: "
            f"got {value}, expected {self.expected}"
        )


def wrong_field_count(exc: pd.errors.ParserError, where: str) -> DataError | None:
    """The error naming line, expected and found field counts when pandas' CSV parser
    stopped at a record of the wrong width ("Expected N fields in line L, saw S");
    None for any other parser error."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if not found:
        return None
    expected, line, saw = found.groups()
    return DataError(f"{where}: line {line}: expected {expected} fields, found {saw}")


def check_header_width(raw: pd.DataFrame, source: bytes | Path, where: str) -> None:
    """Refuse a CSV (``source``: its bytes or path, as read into ``raw`` by pandas with a
    header line) whose first record has more fields than the header: pandas then silently
    makes the leading fields an index, losing the layout (and a many-level index is very
    slow). The file is read again only in that case, to name the line."""
    if isinstance(raw.index, pd.RangeIndex):
        return
    text = source if isinstance(source, bytes) else source.read_bytes()
    lines, number = text.decode("utf-8", "replace").splitlines(), 0
    try:
        width = len(next(csv.reader(lines[:1]), []))
        for number, row in enumerate(csv.reader(lines), start=1):
            if len(row) != width:
                raise DataError(
                    f"{where}: line {number}: expected {width} fields (as in the "
                    f"header), found {len(row)}"
                )
    except csv.Error as exc:
        raise DataError(f"{where}: line {number + 1}: not a CSV row ({exc})") from None
    raise DataError(f"{where}: a row has more fields than the header")


def refuse_blank(path: Path, expected: str, where: str | None = None) -> None:
    """DataError naming the file (``where``, default the path) when ``path`` holds nothing
    but white space and byte order marks (0 bytes included); ``expected`` says what it
    should hold. Reads only up to the first other byte (1 MiB chunks)."""
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            if chunk.translate(None, BLANK):
                return
            size += len(chunk)
    found = "0 bytes" if size == 0 else f"only white space, {size:,} bytes"
    raise DataError(EMPTY_FILE.format(file=where or path, found=found, expected=expected))


@dataclass(frozen=True)
class CheckedFrame:
    """Rows that passed (typed per spec), their file line numbers, and the problems found."""

    frame: pd.DataFrame
    lines: np.ndarray  # int64, shape (len(frame),)
    problems: tuple[RowProblem, ...]
    rejected_rows: int


def check_frame(
    raw: pd.DataFrame, spec: DatasetSpec, *, file: str, lines: np.ndarray
) -> CheckedFrame:
    """Validate ``raw`` (one batch as read) against ``spec``.

    ``lines`` holds the file line number of each raw row (shape (n,)). Numeric columns come
    back as float64, categorical and label columns as str. Columns of the spec absent from
    ``raw`` are allowed only for label and metadata roles.
    """
    present = [col for col in spec.columns if col.name in raw.columns]
    numeric = [col for col in present if col.is_numeric]
    numbers, invalid = _check_numbers(raw, numeric)
    checked: dict[str, np.ndarray | pd.Series] = {}
    bad = invalid.any(axis=1)
    problems: list[RowProblem] = []
    k = 0
    for col in present:
        if col.is_numeric:
            values, mask, expected = numbers[:, k], invalid[:, k], col.expected
            k += 1
        else:
            values, mask, expected = _check_text(raw[col.name], col)
            values = pd.Series(values, index=raw.index, dtype=object)  # str stays object
            bad |= mask
        checked[col.name] = values
        if mask.any():
            _collect(problems, raw[col.name], mask, col.name, expected(), file, lines)
    bad = _check_relations(problems, raw, checked, spec, bad, file, lines)
    frame = pd.DataFrame(checked, index=raw.index)
    problems.sort(key=lambda p: p.line)
    keep = ~bad
    kept = frame if keep.all() else frame[keep]
    return CheckedFrame(
        frame=kept.reset_index(drop=True),
        lines=lines[keep],
        problems=tuple(problems),
        rejected_rows=int(bad.sum()),
    )


def _check_numbers(raw: pd.DataFrame, numeric: list[ColumnSpec]) -> tuple[np.ndarray, np.ndarray]:
    """The numeric columns as float64 (n, k) and a mask of invalid fields (n, k): not a
    number, outside the spec's bounds, or not whole where the spec wants an integer."""
    values = np.empty((len(raw), len(numeric)), dtype=np.float64)
    text = []
    for k, col in enumerate(numeric):
        column = raw[col.name]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
            values[:, k] = column.to_numpy(dtype=np.float64)
        else:
            text.append((k, column.to_numpy(dtype=object)))
    if text:
        # one parse for every text field: pd.to_numeric works element by element
        joined = np.concatenate([t for _, t in text])
        try:
            parsed = pd.to_numeric(joined, errors="coerce")
        except OverflowError:  # an integer beyond float range (JSON allows any size)
            parsed = np.array([_number_or_nan(v) for v in joined], dtype=np.float64)
        parsed = np.asarray(parsed, dtype=np.float64).reshape(len(text), len(raw))
        values[:, [k for k, _ in text]] = parsed.T
    bounds = np.array([col.bounds() for col in numeric], dtype=np.float64).reshape(-1, 2)
    whole = np.array([col.type in ("integer", "binary") for col in numeric], dtype=bool)
    with np.errstate(invalid="ignore"):
        invalid = ~np.isfinite(values) | (values < bounds[:, 0]) | (values > bounds[:, 1])
        invalid |= whole & (values != np.floor(values))
    for k, col in enumerate(numeric):
        if col.not_in:  # values the column never holds (integer columns)
            invalid[:, k] |= np.isin(values[:, k], np.asarray(col.not_in, dtype=np.float64))
    return values, invalid


def _check_text(
    raw: pd.Series, col: ColumnSpec
) -> tuple[np.ndarray, np.ndarray, Callable[[], str]]:
    """Text values (object, shape (n,)), a mask of invalid rows, and a callable giving the
    expectation for messages."""
    values = raw.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = raw.astype("string").to_numpy(dtype=object)  # numbers, bools → their text
    missing = pd.isna(values)
    if col.type == "categorical":
        values = col.category_texts(values)  # 6.0 and "6" are the category 6 of a numeric list
        invalid = missing | col.refused_categories(values)
        return values, invalid, col.expected
    limit = col.text_limit
    invalid = np.fromiter(
        (m or not 0 < len(v) <= limit for v, m in zip(values, missing)), bool, len(values)
    )
    return values, invalid, lambda: NON_EMPTY_LABEL.format(limit=limit)


def numeric_table(frame: pd.DataFrame) -> np.ndarray:
    """Every cell of ``frame`` as float64, shape (rows, columns): NaN where a cell is empty
    or not a number, +-inf beyond float range (both refused by callers as not finite)."""
    try:
        return frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    except OverflowError:  # pandas keeps an integer beyond int64 as a Python int
        out = np.empty(frame.shape, dtype=np.float64)
        for k in range(frame.shape[1]):
            out[:, k] = [_number_or_nan(v) for v in frame.iloc[:, k]]
        return out


def _number_or_nan(value) -> float:
    """``value`` as a float when it is one within float range, else NaN (rejected)."""
    try:
        return float(value)
    except (OverflowError, TypeError, ValueError):
        return float("nan")


def _check_relations(
    problems: list[RowProblem],
    raw: pd.DataFrame,
    checked: dict,
    spec: DatasetSpec,
    bad: np.ndarray,
    file: str,
    lines: np.ndarray,
) -> np.ndarray:
    """Add a problem for every row (not already rejected) that breaks a relation of the
    spec; the mask of rejected rows afterwards. ``checked`` maps column names to typed
    values (arrays or Series, shape (n,))."""
    arrays = {name: np.asarray(values) for name, values in checked.items()}
    for relation in spec.relations:
        if not all(c in arrays for c in relation.involved()):
            continue
        mask = relation.violated(arrays)
        mask = mask & ~bad
        if not mask.any():
            continue
        shown = pd.Series("", index=raw.index, dtype=object)
        for i in np.flatnonzero(mask):
            shown.iloc[i] = ", ".join(f"{c}={raw[c].iloc[i]}" for c in relation.involved())
        _collect(
            problems,
            shown,
            mask,
            "+".join(relation.involved()),
            f"relation '{relation.name}': {relation.describe()}",
            file,
            lines,
        )
        bad = bad | mask
    return bad


def _collect(
    problems: list[RowProblem],
    raw: pd.Series,
    mask: np.ndarray,
    column: str,
    expected: str,
    file: str,
    lines: np.ndarray,
) -> None:
    missing = raw.isna().to_numpy()
    for i in np.flatnonzero(mask):
        value = "" if missing[i] else str(raw.iloc[i])
        problems.append(
            RowProblem(
                file, int(lines[i]), column, value, MISSING_VALUE if missing[i] else expected
            )
        )
