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

IGNORED = frozenset({"subject", "user", "user_id", "session", "session_id", "label"})
PARQUET = (".parquet", ".pq")


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """Numeric features (float64), one row per sample, in the file's column order."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"samples file {path} does not exist")
    try:
        raw = pd.read_parquet(path) if path.suffix.lower() in PARQUET else pd.read_csv(path)
    except Exception as exc:  # pandas raises many types; the message names the problem
        raise DataError(f"samples file {path}: not a readable CSV/Parquet table "
                        f"({type(exc).__name__})") from None
    features = [c for c in raw.columns if str(c).strip().lower() not in IGNORED]
    if not features:
        raise DataError(f"samples file {path}: no feature columns (only {list(raw.columns)})")
    table = raw[features].apply(pd.to_numeric, errors="coerce").astype(float)
    table.columns = [str(c) for c in table.columns]
    return table


def malformed_rows(table: pd.DataFrame) -> list[int]:
    """1-based data rows (after the header) with a missing or non-finite value."""
    bad = ~np.isfinite(table.to_numpy(dtype=float)).all(axis=1)
    return [int(i) + 1 for i in np.flatnonzero(bad)]
