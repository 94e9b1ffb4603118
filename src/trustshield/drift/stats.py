"""The drift monitor's statistics: population stability index, its levels, the two-sample
Kolmogorov–Smirnov statistic, and shares per bucket. Pure numpy; see
:mod:`trustshield.drift.monitor` for how they are used."""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_EPSILON = 1e-4
MODERATE, MAJOR = 0.1, 0.25


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Σ (a − e)·ln(a / e) over buckets; shares below ``epsilon`` are raised to it."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(actual, dtype=np.float64), epsilon)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_statistic(sample: np.ndarray, values: np.ndarray) -> float:
    """Two-sample Kolmogorov–Smirnov statistic: the largest gap between the empirical CDFs
    of ``sample`` and ``values`` (any order); in [0, 1]. The same
    number as ``scipy.stats.ks_2samp(...).statistic``, without its p-value (which costs
    most of the time on windows of thousands of records)."""
    a = np.sort(np.asarray(sample, dtype=np.float64))
    b = np.sort(np.asarray(values, dtype=np.float64))
    grid = np.concatenate([a, b])
    gap = np.searchsorted(a, grid, side="right") / len(a) - np.searchsorted(
        b, grid, side="right"
    ) / len(b)
    return float(np.max(np.abs(gap)))


def level(value: float) -> str:
    """ "major" for PSI ≥ 0.25, "moderate" for 0.1 ≤ PSI < 0.25, else "none"."""
    return "major" if value >= MAJOR else ("moderate" if value >= MODERATE else "none")


def tie_aware_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin edges (sorted, unique) for ``bins`` quantile bins of the finite ``values``.

    A quantile cut above the minimum moves down to midway between the first distinct value
    at or above it and the distinct value before that, so no value above the minimum, and
    so no spike of tied values there, sits on an edge: a tied value recomputed with a
    rounding difference stays in its bin instead of taking the whole spike across the
    edge. A cut at the minimum stays on it (the bin below it holds what lies below
    anything seen). Every value of ``values`` falls in the same bin as with the raw
    quantile cuts (a value on a cut goes to the bin above it). Empty without finite values.
    """
    present = values[np.isfinite(values)]
    if not len(present):
        return np.array([], dtype=np.float64)
    distinct = np.unique(present)
    cuts = np.quantile(present, np.arange(1, bins) / bins)
    above = np.unique(np.searchsorted(distinct, cuts, side="left"))
    low, high = distinct[np.maximum(above - 1, 0)], distinct[above]
    middle = low / 2 + high / 2
    return np.unique(np.where((middle > low) & (middle < high), middle, high))


def numeric_shares(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Shares of (−inf, e1), [e1, e2), …, [ek, inf) and of missing (NaN, ±inf); sum 1."""
    nan = ~np.isfinite(values)
    counts = np.bincount(
        np.searchsorted(edges, values[~nan], side="right"), minlength=len(edges) + 1
    )
    return np.append(counts, nan.sum()) / len(values)


def category_shares(kept: list, column: pd.Series) -> np.ndarray:
    """Shares of each kept category, then of ``other`` (unseen, rare and NaN)."""
    counts = column.value_counts(dropna=True)
    shares = np.array([counts.get(v, 0) for v in kept], dtype=np.float64) / len(column)
    return np.append(shares, max(0.0, 1.0 - shares.sum()))
