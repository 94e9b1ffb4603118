"""EDGE: read the keystroke table of any population for the benchmark and ``auth prior``.

A keystroke table is a CSV or Parquet file with one row per typing, in the order typed
within each subject: one column names the subject (``--subject``), every other column is
a numeric feature (latencies, pressure, ...). Errors name the file, the column, the data
row (1-based, after the header) and what was expected; they never quote a value (typings
are biometric data). Per-key series tables go through
:mod:`trustshield.ingest.keystroke_series` first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.datasets import sha256_of
from trustshield.ingest.keystroke import KeystrokeData
from trustshield.ingest.samples import read_sample_table
from trustshield.ingest.validate import numeric_table


def read_table(path: str | Path, what: str = "keystroke table") -> pd.DataFrame:
    """The raw table of a CSV or Parquet file; DataError naming the file when it cannot be
    read (see :func:`trustshield.ingest.samples.read_sample_table`)."""
    return read_sample_table(path, what)


def keystroke_data(
    table: pd.DataFrame, *, subject_column: str, path: str | Path, sha256: str
) -> KeystrokeData:
    """Check ``table`` (subject column + numeric features) and wrap it as KeystrokeData."""
    where = f"keystroke table {path}"
    if subject_column not in table.columns:
        raise DataError(
            f"{where}: no subject column {subject_column!r}; columns are "
            f"{[str(c) for c in table.columns][:20]} (give the right one with "
            "--subject)"
        )
    features = [str(c) for c in table.columns if str(c) != subject_column]
    if not features:
        raise DataError(f"{where}: no feature column beside the subject column")
    frame = table.copy()
    frame.columns = [str(c) for c in frame.columns]
    if frame[subject_column].isna().any():
        row = int(np.flatnonzero(frame[subject_column].isna())[0]) + 1
        raise DataError(f"{where}: row {row} has no subject in column {subject_column!r}")
    numeric = pd.DataFrame(numeric_table(frame[features]), columns=features, index=frame.index)
    bad = ~np.isfinite(numeric.to_numpy())
    if bad.any():
        row, col = (int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{where}: row {row + 1}, column {features[col]!r}: expected a finite "
            f"number ({int(bad.sum())} such value(s) in the table; values not "
            "shown: typings are biometric data)"
        )
    frame[features] = numeric
    frame[subject_column] = frame[subject_column].astype(str)
    return KeystrokeData(
        frame[[subject_column, *features]].reset_index(drop=True),
        subject_column,
        tuple(features),
        sha256,
        Path(path),
    )


def read_keystroke_table(path: str | Path, *, subject_column: str) -> KeystrokeData:
    """A keystroke table (see the module docstring) as validated KeystrokeData."""
    return keystroke_data(
        read_table(path), subject_column=subject_column, path=path, sha256=sha256_of(path)
    )
