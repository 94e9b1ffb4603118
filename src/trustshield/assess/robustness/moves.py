"""What an evasion attacker may change, and by how much: the budget and the feasible moves.

A *move* sets one attacker-controlled numeric feature of a record to a new value. Every
move offered here already lies in the feasible set of that feature given the rest of the
record: inside the column's valid range, in the direction the attacker controls
(``increase`` / ``decrease`` / ``any``), on the grid the column is recorded with (whole
numbers; NSL-KDD rates to 0.01), within the budget's factor of the ORIGINAL value, and
below the cap that each ``sum_at_most`` relation leaves for it. Relations that a single
move cannot repair (``implies`` on fixed columns, arithmetic ``expression`` relations) are
left to the independent checker (:func:`trustshield.specs.infeasibility`), which every
attack applies before it keeps a candidate; a column such a relation derives is recomputed
first (:func:`trustshield.specs.feasibility.derive`).

Categorical and binary features, and every ``fixed`` feature, are never moved.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trustshield.assess.robustness.noise import recorded_decimals
from trustshield.errors import DataError
from trustshield.specs.dataset_spec import ColumnSpec, DatasetSpec
from trustshield.specs.feasibility import TOLERANCE, derived_columns


@dataclass(frozen=True)
class Budget:
    """At most ``max_features`` features changed, each new value v' within
    [v / max_factor, v · max_factor] of the original v (so a zero stays zero)."""

    max_features: int = 3
    max_factor: float = 2.0

    def __post_init__(self):
        if int(self.max_features) != self.max_features or self.max_features < 1:
            raise DataError(
                f"budget max_features must be a whole number ≥ 1, got {self.max_features}"
            )
        if not self.max_factor > 1:
            raise DataError(f"budget max_factor must be > 1, got {self.max_factor}")

    def as_dict(self) -> dict:
        return asdict(self)

    def allows(
        self, spec: DatasetSpec, originals: pd.DataFrame, candidates: pd.DataFrame
    ) -> np.ndarray:
        """(n,) bool: candidate i changes at most ``max_features`` features, none of them
        categorical or binary, each numeric one within the factor of its original. Columns
        a relation derives from the moved ones (:func:`derived_columns`) follow their
        relation and count against neither limit."""
        originals = originals.reset_index(drop=True)
        candidates = candidates.reset_index(drop=True)
        derived = derived_columns(spec, candidates.columns)
        moved = np.array([c.name not in derived for c in spec.features], dtype=bool)
        changed = changed_features(spec, originals, candidates)[:, moved]
        ok = changed.sum(axis=1) <= self.max_features
        for col in spec.features:
            if col.name in derived:
                continue
            before, after = originals[col.name], candidates[col.name]
            if col.type in ("categorical", "binary"):
                ok &= same_values(before, after)
                continue
            v = pd.to_numeric(before, errors="coerce").to_numpy(dtype=float)
            w = pd.to_numeric(after, errors="coerce").to_numpy(dtype=float)
            lo, hi = (
                np.minimum(v / self.max_factor, v * self.max_factor),
                np.maximum(v / self.max_factor, v * self.max_factor),
            )
            with np.errstate(invalid="ignore"):
                ok &= (np.abs(w - v) <= TOLERANCE) | ((w >= lo - TOLERANCE) & (w <= hi + TOLERANCE))
        return ok


def same_values(before: pd.Series, after: pd.Series) -> np.ndarray:
    """(n,) bool: the values are equal (``"tcp" == "tcp"``, ``6 == 6.0``) or both missing."""
    a, b = before.to_numpy(dtype=object), after.to_numpy(dtype=object)
    return np.asarray((a == b) | (pd.isna(a) & pd.isna(b)), dtype=bool)


def changed_features(
    spec: DatasetSpec, originals: pd.DataFrame, candidates: pd.DataFrame
) -> np.ndarray:
    """(n, d) bool over ``spec.features``: which features each candidate changed."""
    out = np.zeros((len(candidates), len(spec.features)), dtype=bool)
    for j, col in enumerate(spec.features):
        before, after = originals[col.name], candidates[col.name]
        if col.type == "categorical":
            out[:, j] = ~same_values(before, after)
        else:
            with np.errstate(invalid="ignore"):
                out[:, j] = ~(
                    np.abs(after.to_numpy(dtype=float) - before.to_numpy(dtype=float)) <= TOLERANCE
                )
    return out


def log2_change(spec: DatasetSpec, originals: pd.DataFrame, candidates: pd.DataFrame) -> np.ndarray:
    """(n,) largest |log2(v'/v)| over the changed numeric features (1.0 = doubled or
    halved; 0 when nothing changed)."""
    worst = np.zeros(len(candidates))
    for col in spec.features:
        if col.type == "categorical":
            continue
        v = originals[col.name].to_numpy(dtype=float)
        w = candidates[col.name].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(np.abs(w - v) <= TOLERANCE, 0.0, np.abs(np.log2(w / v)))
        worst = np.maximum(worst, np.nan_to_num(ratio, nan=0.0, posinf=np.inf))
    return worst


@dataclass(frozen=True)
class Movable:
    """One feature an attacker may move: its spec and recorded resolution (decimals,
    None = continuous)."""

    column: ColumnSpec
    decimals: int | None

    @property
    def name(self) -> str:
        return self.column.name

    def down(self, values: np.ndarray) -> np.ndarray:
        """Largest recordable value ≤ each value."""
        return self._snap(values, lambda x: np.floor(x + 1e-6))

    def up(self, values: np.ndarray) -> np.ndarray:
        """Smallest recordable value ≥ each value."""
        return self._snap(values, lambda x: np.ceil(x - 1e-6))

    def nearest(self, values: np.ndarray) -> np.ndarray:
        return self._snap(values, np.round)

    def _snap(self, values, how) -> np.ndarray:
        if self.decimals is None:
            return np.asarray(values, dtype=float)
        scale = 10.0**self.decimals
        return how(np.asarray(values, dtype=float) * scale) / scale

    def interval(
        self, spec: DatasetSpec, budget: Budget, original: np.ndarray, state: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray]:
        """Feasible closed interval (lo, hi), each shape (n,), for this feature of the
        records in ``state`` (raw frame), given their ``original`` values (n,): bounds,
        direction, budget box and ``sum_at_most`` caps, snapped inward to the grid.
        lo > hi means no feasible value."""
        col = self.column
        v = np.asarray(original, dtype=float)
        lo, hi = v / budget.max_factor, v * budget.max_factor
        if col.attacker == "increase":
            lo = v
        elif col.attacker == "decrease":
            hi = v
        low, high = col.bounds()
        lo, hi = np.maximum(lo, low), np.minimum(hi, high)
        for relation in spec.relations:
            if relation.kind == "sum_at_most" and col.name in relation.columns:
                others = [c for c in relation.columns if c != col.name]
                rest = state[others].to_numpy(dtype=float).sum(axis=1)
                hi = np.minimum(hi, relation.limit + relation.tolerance - rest)
        return self.up(lo - TOLERANCE / 2), self.down(hi + TOLERANCE / 2)


def movable_features(spec: DatasetSpec, records: pd.DataFrame) -> list[Movable]:
    """Attacker-controlled integer, real and rate features, with their resolution: the
    spec's ``decimals`` (integers: 0), else the finest the ``records`` show."""
    out = []
    for col in spec.features:
        if col.attacker == "fixed" or col.type not in ("integer", "real", "rate"):
            continue
        decimals = 0 if col.type == "integer" else col.decimals
        if decimals is None:
            decimals = recorded_decimals(records[col.name].to_numpy(dtype=float))
        out.append(Movable(col, decimals))
    return out


def grid_values(
    move: Movable, lo: np.ndarray, hi: np.ndarray, current: np.ndarray, count: int
) -> np.ndarray:
    """(n, count) candidate values spread geometrically over [lo, hi] (linearly when lo is
    0), snapped to the grid; NaN where empty, duplicated or equal to ``current``."""
    steps = np.linspace(0.0, 1.0, count)
    with np.errstate(divide="ignore", invalid="ignore"):
        geometric = lo[:, None] * (hi / lo)[:, None] ** steps
    linear = lo[:, None] + (hi - lo)[:, None] * steps
    values = move.nearest(np.where((lo > 0)[:, None], geometric, linear))
    return _clean(values, lo, hi, current)


def threshold_values(
    move: Movable, thresholds: np.ndarray, lo: np.ndarray, hi: np.ndarray, current: np.ndarray
) -> np.ndarray:
    """(n, 2·t + 2) candidate values that cross the model's split thresholds for this
    feature (the grid value just at or below each threshold and the one just above),
    plus both interval ends; NaN where outside [lo, hi], duplicated or equal to
    ``current``."""
    t = np.asarray(thresholds, dtype=float)
    below = move.down(t)
    above = move.up(np.nextafter(t, np.inf))
    above = np.where(above <= t, above + (10.0 ** -(move.decimals or 0)), above)
    crossing = np.concatenate([below, above])
    values = np.concatenate(
        [np.broadcast_to(crossing, (len(lo), len(crossing))), lo[:, None], hi[:, None]], axis=1
    )
    return _clean(values, lo, hi, current)


def _clean(values: np.ndarray, lo, hi, current) -> np.ndarray:
    values = np.array(values, dtype=float)
    outside = (values < lo[:, None] - TOLERANCE) | (values > hi[:, None] + TOLERANCE)
    same = np.abs(values - np.asarray(current, dtype=float)[:, None]) <= TOLERANCE
    values[outside | same | (lo > hi)[:, None]] = np.nan
    values.sort(axis=1)  # NaN last; duplicates become neighbours
    dup = np.zeros_like(values, dtype=bool)
    dup[:, 1:] = np.abs(np.diff(values, axis=1)) <= TOLERANCE
    values[dup] = np.nan
    return values
