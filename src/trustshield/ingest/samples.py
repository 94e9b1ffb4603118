"""EDGE: read biometric samples (one row per typing or action) for enrolment and
verification.

A feature table is a CSV or Parquet file with one numeric column per feature; columns
named like an identity or a label (:data:`IGNORED`, any case) are dropped. A value that is
missing or not a number leaves NaN in its row, which marks the sample malformed: enrolment
refuses such rows, verification scores them as missing (step-up, never deny). Error
messages name rows and columns but never quote values: samples are biometric data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import (
    check_header_width,
    numeric_table,
    refuse_blank,
    wrong_field_count,
)
from trustshield.utf8 import not_utf8

IGNORED = frozenset({"subject", "user", "user_id", "session", "session_id", "label"})
PARQUET = (".parquet", ".pq")
#: characters a column name may have (a longer one is a damaged header, not a feature)
LONGEST_NAME = 256


def read_sample_table(path: str | Path, what: str = "samples file") -> pd.DataFrame:
    """The raw table of a CSV or Parquet file of biometric samples. DataError naming
    ``what`` and the file (and the line, for a CSV) when it cannot be read or holds no
    rows; the parser's own message is not quoted, as it may hold values."""
    path = Path(path)
    where = f"{what} {path}"
    if not path.is_file():
        raise DataError(f"{where} does not exist")
    parquet = path.suffix.lower() in PARQUET
    refuse_blank(path, "a Parquet table" if parquet else "a header line, then rows", where)
    try:
        raw = pd.read_parquet(path) if parquet else pd.read_csv(path)
    except UnicodeDecodeError:
        raise not_utf8(where, path) from None
    except pd.errors.EmptyDataError:  # blank lines only are refused above
        raise DataError(f"{where}: expected a header line, then one row per sample") from None
    except pd.errors.ParserError as exc:
        wrong_width = wrong_field_count(exc, where)
        if wrong_width:
            raise wrong_width from None
        raise DataError(f"{where}: not a readable CSV table (the CSV parser stopped)") from None
    except Exception as exc:  # pyarrow and pandas raise many types for a damaged file
        raise DataError(
            f"{where}: not a readable CSV/Parquet table ({type(exc).__name__})"
        ) from None
    if parquet:
        if raw.empty and len(raw.columns):  # a schema and no rows
            raise DataError(f"{where}: no data rows")
        return raw
    check_header_width(raw, path, where)
    if raw.empty and len(raw.columns):  # a header line and no rows
        raise DataError(f"{where}: no data rows after the header")
    long = next((i for i, c in enumerate(raw.columns) if len(str(c)) > LONGEST_NAME), None)
    if long is not None:
        raise DataError(
            f"{where}: line 1, column {long + 1}: a name of {len(str(raw.columns[long])):,} "
            f"characters; expected at most {LONGEST_NAME}"
        )
    return raw


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """Numeric features (float64), one row per sample, in the file's column order."""
    path = Path(path)
    raw = read_sample_table(path)
    features = [c for c in raw.columns if str(c).strip().lower() not in IGNORED]
    if not features:
        raise DataError(f"samples file {path}: no feature columns (only {list(raw.columns)})")
    table = pd.DataFrame(numeric_table(raw[features]), columns=features)
    table.columns = [str(c) for c in table.columns]
    return table


def malformed_rows(table: pd.DataFrame) -> list[int]:
    """1-based data rows (after the header) with a missing or non-finite value."""
    bad = ~np.isfinite(table.to_numpy(dtype=float)).all(axis=1)
    return [int(i) + 1 for i in np.flatnonzero(bad)]
