"""Is a changed record still one that could exist on a wire? The one feasibility checker.

Every attack, counterfactual and test asks this module, so "feasible" means one thing:
the candidate keeps each column's type and valid range, changes only what an attacker
controls and only in the allowed direction (``fixed`` unchanged, ``increase`` not lower,
``decrease`` not higher, ``any`` free), and satisfies every relation of the spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.specs.dataset_spec import ColumnSpec, DatasetSpec

#: equal within this, for float columns read back from text
TOLERANCE = 1e-9


@dataclass(frozen=True)
class Violation:
    """One reason a candidate is infeasible: the column (or relation) and why."""

    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.column}: {self.reason}"


@dataclass(frozen=True)
class Feasibility:
    """The verdict and every violation found (empty when feasible)."""

    violations: tuple[Violation, ...]

    @property
    def feasible(self) -> bool:
        return not self.violations

    def __bool__(self) -> bool:
        return self.feasible


def is_feasible(
    spec: DatasetSpec, original: Mapping[str, Any], candidate: Mapping[str, Any]
) -> Feasibility:
    """Check one candidate against the original record it was derived from.

    ``original`` and ``candidate`` map every feature name to its raw value (categories
    as strings, numbers as numbers), e.g. a row of a validated frame.
    """
    frame = pd.DataFrame([dict(original), dict(candidate)])
    reasons = infeasibility(spec, frame.iloc[[0]], frame.iloc[[1]])
    return Feasibility(tuple(reasons[0]))


def infeasibility(
    spec: DatasetSpec, originals: pd.DataFrame, candidates: pd.DataFrame
) -> list[list[Violation]]:
    """Violations per candidate row (n lists) for aligned frames of originals and
    candidates, shape (n, ·) each; an empty list means feasible."""
    if len(originals) != len(candidates):
        raise DataError(
            f"{len(originals)} originals but {len(candidates)} candidates: "
            "expected one candidate per original, aligned by position"
        )
    originals = originals.reset_index(drop=True)
    candidates = candidates.reset_index(drop=True)
    found: list[list[Violation]] = [[] for _ in range(len(candidates))]
    for col in spec.features:
        if col.name not in candidates.columns:
            raise DataError(f"candidates lack feature column {col.name!r} of spec {spec.name}")
        for mask, reason in _column_checks(col, originals[col.name], candidates[col.name]):
            for i in np.flatnonzero(mask):
                found[i].append(Violation(col.name, reason))
    for relation in spec.relations:
        if not all(c in candidates.columns for c in relation.involved()):
            continue
        for i in np.flatnonzero(relation.violated(candidates)):
            found[i].append(
                Violation(
                    "+".join(relation.involved()),
                    f"breaks relation '{relation.name}': {relation.describe()}",
                )
            )
    return found


def _column_checks(
    col: ColumnSpec, before: pd.Series, after: pd.Series
) -> Iterator[tuple[np.ndarray, str]]:
    """(mask, reason) pairs for one column: type, range, then attacker control."""
    if col.type == "categorical":
        yield ~after.isin(col.values).to_numpy(), f"expected {col.expected()}"
        yield _changed(col, before, after), "is fixed: an attacker cannot change it"
        return
    values = pd.to_numeric(after, errors="coerce").to_numpy(dtype=float)
    lo, hi = col.bounds()
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(values) | (values < lo - TOLERANCE) | (values > hi + TOLERANCE)
        if col.type in ("integer", "binary"):
            bad |= values != np.round(values)  # exact: 1e-30 bytes is not 0 bytes
        elif col.decimals is not None:
            scaled = values * 10.0**col.decimals
            bad |= np.abs(scaled - np.round(scaled)) > 1e-6
    yield bad, f"expected {col.expected()}"
    delta = values - pd.to_numeric(before, errors="coerce").to_numpy(dtype=float)
    if col.attacker == "fixed":
        yield np.abs(delta) > TOLERANCE, "is fixed: an attacker cannot change it"
    elif col.attacker == "increase":
        yield delta < -TOLERANCE, "an attacker can only increase it"
    elif col.attacker == "decrease":
        yield delta > TOLERANCE, "an attacker can only decrease it"


def _changed(col: ColumnSpec, before: pd.Series, after: pd.Series) -> np.ndarray:
    if col.attacker != "fixed":
        return np.zeros(len(after), dtype=bool)
    return np.asarray(before.astype(str).to_numpy() != after.astype(str).to_numpy())
