"""EDGE: read per-key series (timings or pressure recorded as variable-length series) and
summarise each into fixed features, one row per typing.

Layout (CSV or Parquet): one row per reading and one column per series, e.g. ``Pressure t``
holding the pressure readings taken while 't' was pressed, or ``Hold t`` successive timings;
series shorter than the longest of their typing are padded with zeros at the end. A column
named ``typing`` or ``sample`` (any case) numbers the typing each row belongs to (without
one, the whole file is one typing); a ``subject`` or ``user`` column, when present, names
who typed it and must be the same on every row of a typing. Typings keep the order of
their first row.

Each series column ``C`` becomes the features :data:`SUMMARIES` names, ``C n``, ``C mean``,
``C sd``, ``C min``, ``C max`` (:func:`series_spec` gives them as a DatasetSpec, with type,
unit and description). Only trailing zeros are padding: a zero inside a series is a reading.
A series with no reading (all zeros) has ``n`` 0 and missing statistics, which makes that
typing malformed: enrolment refuses it and verification steps up, as for any missing value.
Errors name the file, the column and the row, never a value (typings are biometric data).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import numeric_table
from trustshield.specs.dataset_spec import ColumnSpec, DatasetSpec

TYPING_COLUMNS = ("typing", "sample")
SUBJECT_COLUMNS = ("subject", "user")
#: the statistic each series is summarised into: (suffix, type, unit, description)
SUMMARIES = (
    (
        "n",
        "integer",
        "readings",
        "number of readings: up to the last non-zero value (trailing zeros are padding)",
    ),
    ("mean", "real", "as the series", "mean of the readings"),
    (
        "sd",
        "real",
        "as the series",
        "standard deviation of the readings (n denominator; 0 for one reading)",
    ),
    ("min", "real", "as the series", "smallest reading"),
    ("max", "real", "as the series", "largest reading"),
)


def _named(columns, names: tuple[str, ...]) -> str | None:
    return next((c for c in columns if str(c).strip().lower() in names), None)


def summarise(readings: np.ndarray) -> list[float]:
    """The :data:`SUMMARIES` of one zero-padded series (1-D), in that order."""
    nonzero = np.flatnonzero(readings != 0)
    values = readings[: nonzero[-1] + 1] if len(nonzero) else readings[:0]
    if not len(values):
        return [0.0] + [np.nan] * (len(SUMMARIES) - 1)
    return [
        float(len(values)),
        float(values.mean()),
        float(values.std()),
        float(values.min()),
        float(values.max()),
    ]


def read_series_table(path: str | Path, *, subject_column: str | None = None) -> pd.DataFrame:
    """One row per typing: the subject column (when the file has one; ``subject_column``
    names it, else ``subject``/``user``) then the summary features of every series."""
    from trustshield.ingest.keystroke_table import read_table

    raw = read_table(path, "series table")
    where = f"series table {path}"
    typing = _named(raw.columns, TYPING_COLUMNS)
    subject = subject_column if subject_column is not None else _named(raw.columns, SUBJECT_COLUMNS)
    if subject is not None and subject not in raw.columns:
        raise DataError(
            f"{where}: no subject column {subject!r}; columns are "
            f"{[str(c) for c in raw.columns][:20]}"
        )
    series = [c for c in raw.columns if c not in (typing, subject)]
    if not series:
        raise DataError(f"{where}: no series column (only {[str(c) for c in raw.columns]})")
    readings = numeric_table(raw[series])
    bad = ~np.isfinite(readings)
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{where}: row {row + 1}, column {str(series[col])!r}: expected a "
            "finite number, 0 for padding (value not shown: typings are biometric "
            "data)"
        )
    groups = (
        np.zeros(len(raw), dtype=int)
        if typing is None
        else pd.factorize(raw[typing].astype(str), sort=False)[0]
    )
    rows = []
    for g in range(groups.max() + 1 if len(groups) else 0):
        at = np.flatnonzero(groups == g)
        row = {}
        if subject is not None:
            who = raw[subject].iloc[at].astype(str).unique()
            if len(who) != 1:
                raise DataError(
                    f"{where}: typing starting at row {at[0] + 1} has rows of "
                    f"{len(who)} subjects in column {subject!r}; expected one"
                )
            row[str(subject)] = who[0]
        for j, name in enumerate(series):
            for (suffix, *_), value in zip(SUMMARIES, summarise(readings[at, j])):
                row[f"{name} {suffix}"] = value
        rows.append(row)
    if not rows:
        raise DataError(f"{where}: no readings")
    return pd.DataFrame(rows)


def read_series_samples(path: str | Path) -> pd.DataFrame:
    """The summary features only (the samples reader of the ``keystroke-series`` kind)."""
    table = read_series_table(path)
    subject = _named(table.columns, SUBJECT_COLUMNS)
    return table.drop(columns=[subject]) if subject is not None else table


def series_spec(series: list[str], *, name: str = "keystroke-series") -> DatasetSpec:
    """The DatasetSpec of the features :func:`read_series_table` makes from ``series``."""
    columns = tuple(
        ColumnSpec(
            f"{s} {suffix}",
            kind,
            unit=unit,
            min=0.0 if suffix in ("n", "sd") else None,
            attacker="any",
            description=f"{s}: {text}",
        )
        for s in series
        for suffix, kind, unit, text in SUMMARIES
    )
    return DatasetSpec(
        name,
        columns,
        label_column=None,
        normal_label=None,
        description="per-key series summarised by trustshield.ingest.keystroke_series",
    )
