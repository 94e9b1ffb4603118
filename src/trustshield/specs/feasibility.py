"""Is a changed record still one that could exist on a wire? The one feasibility checker.

Every attack, counterfactual and test asks this module, so "feasible" means one thing:
the candidate keeps each column's type and valid range (and avoids its ``not_in`` values),
changes only what an attacker controls and only in the allowed direction (``fixed``
unchanged, ``increase`` not lower, ``decrease`` not higher, ``any`` free), and satisfies
every relation of the spec, arithmetic ``expression`` relations included.

Derived columns. An ``expression`` relation ``name = expression`` whose ``name`` is a
feature the attacker does not control (``fixed``) defines that column from others: when
an attacker moves ``synack``, ``tcprtt = synack + ackdat`` moves with it. The checker
stays a judge and never edits a candidate: a derived column may differ from the original
(the ``fixed`` rule does not apply to it), but the relation must hold, so a candidate that
changed an input without recomputing the derived column is infeasible. Attacks call
:func:`derive` on each candidate before they score and check it, so they recompute
instead of being refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.specs.dataset_spec import ColumnSpec, DatasetSpec, Relation

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
    derived = set(derived_columns(spec, candidates.columns))
    for col in spec.features:
        if col.name not in candidates.columns:
            raise DataError(f"candidates lack feature column {col.name!r} of spec {spec.name}")
        checks = _column_checks(
            col, originals[col.name], candidates[col.name], derived=col.name in derived
        )
        for mask, reason in checks:
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


def derived_columns(spec: DatasetSpec, present: Iterable[str]) -> dict[str, Relation]:
    """{column: the relation that defines it} for every feature the attacker does not
    control (``fixed``) that is the left side of an ``expression`` relation ``name =
    expression``, when every column of the relation is among ``present``; the first such
    relation per column, in spec order."""
    present = set(present)
    fixed = {c.name for c in spec.features if c.attacker == "fixed"}
    out: dict[str, Relation] = {}
    for relation in spec.relations:
        name = relation.derived_column
        if name in fixed and name not in out and set(relation.involved()) <= present:
            out[name] = relation
    return out


def derive(spec: DatasetSpec, candidates: pd.DataFrame) -> pd.DataFrame:
    """``candidates`` with every derived column (see :func:`derived_columns`) recomputed
    from its relation, in spec order, rounded to the column's resolution (integer: whole,
    real or rate: its ``decimals``); rows where the expression is undefined (a division
    by zero) keep their value. The same frame when the spec derives nothing."""
    defined = derived_columns(spec, candidates.columns)
    if not defined:
        return candidates
    out = candidates.copy()
    for name, relation in defined.items():
        value = np.broadcast_to(relation.comparison.sides(out)[1], (len(out),)).astype(float)
        col = spec.column(name)
        decimals = 0 if col.type in ("integer", "binary") else col.decimals
        if decimals is not None:
            value = np.round(value, decimals)
        current = out[name].to_numpy(dtype=float)
        out[name] = np.where(np.isfinite(value), value, current).astype(out[name].dtype)
    return out


def _column_checks(
    col: ColumnSpec, before: pd.Series, after: pd.Series, *, derived: bool = False
) -> Iterator[tuple[np.ndarray, str]]:
    """(mask, reason) pairs for one column: type, range, then attacker control (not for a
    ``derived`` column: its relation decides its value)."""
    if col.type == "categorical":
        texts = col.category_texts(after.to_numpy(dtype=object))
        yield pd.isna(texts) | col.refused_categories(texts), f"expected {col.expected()}"
        yield _changed(col, before, after), "is fixed: an attacker cannot change it"
        return
    values = pd.to_numeric(after, errors="coerce").to_numpy(dtype=float)
    lo, hi = col.bounds()
    with np.errstate(invalid="ignore", over="ignore"):
        bad = ~np.isfinite(values) | (values < lo - TOLERANCE) | (values > hi + TOLERANCE)
        if col.type in ("integer", "binary"):
            bad |= values != np.round(values)  # exact: 1e-30 bytes is not 0 bytes
        elif col.decimals is not None:
            bad |= off_grid(values, col.decimals)
        if col.not_in:
            bad |= np.isin(values, np.asarray(col.not_in, dtype=float))
    yield bad, f"expected {col.expected()}"
    if derived:
        return
    delta = values - pd.to_numeric(before, errors="coerce").to_numpy(dtype=float)
    if col.attacker == "fixed":
        yield np.abs(delta) > TOLERANCE, "is fixed: an attacker cannot change it"
    elif col.attacker == "increase":
        yield delta < -TOLERANCE, "an attacker can only increase it"
    elif col.attacker == "decrease":
        yield delta > TOLERANCE, "an attacker can only decrease it"


def off_grid(values: np.ndarray, decimals: int) -> np.ndarray:
    """Mask (n,) of values not on the grid of ``decimals`` decimals: farther from the
    nearest grid point than a millionth of a step, or than float64 can resolve at that
    magnitude (so 17 decimals accept whatever float64 can write; 12 decimals of a value
    with 12 significant digits are not refused for the last bit of rounding)."""
    scaled = values * 10.0**decimals
    off = np.abs(scaled - np.round(scaled))
    return np.asarray(off > np.maximum(1e-6, 4 * np.finfo(np.float64).eps * np.abs(scaled)))


def _changed(col: ColumnSpec, before: pd.Series, after: pd.Series) -> np.ndarray:
    if col.attacker != "fixed":
        return np.zeros(len(after), dtype=bool)
    old = col.category_texts(before.to_numpy(dtype=object)).astype(str)
    new = col.category_texts(after.to_numpy(dtype=object)).astype(str)
    return np.asarray(old != new)
