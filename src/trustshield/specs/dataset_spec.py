"""DatasetSpec: what a data set's columns mean and which values are valid.

A spec is a YAML file (see ``nsl-kdd.yaml`` for the worked example) loaded into frozen
dataclasses. Ingest validates every row against it; features, explanations and (later)
the robustness lab read types, units, ranges, attacker control and relations from it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from trustshield.errors import SpecError

# Columns by name: a DataFrame or a mapping of column name → array of shape (n,).
Columns: TypeAlias = "pd.DataFrame | Mapping[str, Any]"

COLUMN_TYPES = ("integer", "real", "rate", "binary", "categorical", "label")
ATTACKER_CONTROL = ("fixed", "increase", "decrease", "any")
PREDICATE_OPS = ("in", "equals", "above", "at_most")
DEFAULT_MAX_TEXT = 200  #: characters of a label column's value unless its spec says max_length
RELATION_KINDS = ("implies", "sum_at_most")


@dataclass(frozen=True)
class ColumnSpec:
    """One column: type, unit, valid range or values, and what an attacker can do to it."""

    name: str
    type: str
    role: str = "feature"  # feature | label | metadata
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    decimals: int | None = None  # real / rate: recorded to this many decimals
    values: tuple[str, ...] = ()
    attacker: str = "fixed"
    description: str = ""
    max_length: int | None = None  # label columns: longest value, in characters

    @property
    def text_limit(self) -> int:
        """Most characters a value of this label column may have (``max_length``, else
        :data:`DEFAULT_MAX_TEXT`)."""
        return DEFAULT_MAX_TEXT if self.max_length is None else self.max_length

    @property
    def is_numeric(self) -> bool:
        return self.type in ("integer", "real", "rate", "binary")

    def bounds(self) -> tuple[float, float]:
        """Valid closed interval; rates are [0, 1] and binaries {0, 1} by definition."""
        if self.type in ("rate", "binary"):
            return 0.0, 1.0
        lo = -np.inf if self.min is None else float(self.min)
        hi = np.inf if self.max is None else float(self.max)
        return lo, hi

    def expected(self) -> str:
        """What a valid value looks like, for error messages."""
        if self.type == "categorical":
            shown = ", ".join(self.values[:12]) + (", …" if len(self.values) > 12 else "")
            return f"one of {{{shown}}}"
        if self.type == "binary":
            return "0 or 1"
        lo, hi = self.bounds()
        kind = "an integer" if self.type == "integer" else "a number"
        grid = "" if self.decimals is None else f" with at most {self.decimals} decimals"
        return f"{kind} in [{_fmt(lo)}, {_fmt(hi)}]{grid}"


@dataclass(frozen=True)
class Predicate:
    """A test on one column: ``in`` a set, ``equals``, ``above`` or ``at_most`` a value."""

    column: str
    op: str
    value: Any

    def holds(self, frame: Columns) -> np.ndarray:
        """Boolean mask, shape (n,), on a DataFrame or a mapping of column → array; a missing
        value never holds."""
        values = np.asarray(frame[self.column])
        if self.op == "in":
            if values.dtype == object:
                allowed = set(self.value)
                return np.fromiter((v in allowed for v in values), bool, len(values))
            return np.asarray(np.isin(values, list(self.value)))
        if values.dtype == object and self.op != "equals":  # text order: pandas' rules
            series = pd.Series(values)
            return np.asarray(series > self.value if self.op == "above" else series <= self.value)
        with np.errstate(invalid="ignore"):
            if self.op == "equals":
                return np.asarray(values == self.value)
            return np.asarray(values > self.value if self.op == "above" else values <= self.value)

    def describe(self) -> str:
        shown = "{" + ", ".join(map(str, self.value)) + "}" if self.op == "in" else self.value
        return f"{self.column} {self.op.replace('_', ' ')} {shown}"


@dataclass(frozen=True)
class Relation:
    """A constraint between columns that every valid record satisfies."""

    kind: str
    name: str
    condition: Predicate | None = None
    consequence: Predicate | None = None
    columns: tuple[str, ...] = ()
    limit: float = 1.0
    tolerance: float = 0.0

    def violated(self, frame: Columns) -> np.ndarray:
        """Boolean mask of records that break the relation, shape (n,), on a DataFrame or a
        mapping of column → array (missing values count as 0 in a sum)."""
        if self.kind == "implies":
            condition, consequence = self._implication()
            return np.asarray(condition.holds(frame) & ~consequence.holds(frame))
        parts = [np.asarray(frame[c], dtype=np.float64) for c in self.columns]
        total = np.nansum(np.column_stack(parts), axis=1)
        return np.asarray(total > self.limit + self.tolerance)

    def involved(self) -> tuple[str, ...]:
        if self.kind == "implies":
            condition, consequence = self._implication()
            return (condition.column, consequence.column)
        return self.columns

    def describe(self) -> str:
        if self.kind == "implies":
            condition, consequence = self._implication()
            return f"if {condition.describe()} then {consequence.describe()}"
        return f"{' + '.join(self.columns)} ≤ {_fmt(self.limit)} (± {_fmt(self.tolerance)})"

    def _implication(self) -> tuple[Predicate, Predicate]:
        """(condition, consequence) of an "implies" relation; SpecError when one is unset."""
        if self.condition is None or self.consequence is None:
            raise SpecError(
                f"relation {self.name!r}: 'implies' needs a condition and a consequence"
            )
        return self.condition, self.consequence


@dataclass(frozen=True)
class SourceFile:
    """A published file of the data set, with the sha256 recorded in its SOURCE.md."""

    name: str
    sha256: str
    rows: int | None = None
    role: str = "test"
    url: str | None = None


@dataclass(frozen=True)
class DatasetSpec:
    """Everything TrustShield knows about one data set or log type."""

    name: str
    columns: tuple[ColumnSpec, ...]
    label_column: str | None
    normal_label: str | None
    relations: tuple[Relation, ...] = ()
    category_of_attack: dict[str, str] = field(default_factory=dict)
    technique_of_category: dict[str, str] = field(default_factory=dict)
    technique_of_attack: dict[str, str] = field(default_factory=dict)
    technique_names: dict[str, str] = field(default_factory=dict)
    files: tuple[SourceFile, ...] = ()
    dataset: str | None = None
    file_format: str = "csv"
    header: bool = True
    description: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def features(self) -> tuple[ColumnSpec, ...]:
        return tuple(c for c in self.columns if c.role == "feature")

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.features)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise SpecError(f"spec {self.name!r} has no column {name!r}")

    def category(self, label: str) -> str:
        """Attack category of a label: 'normal', a category name, or 'unknown'."""
        if label == self.normal_label:
            return "normal"
        return self.category_of_attack.get(label, "unknown")

    def technique(self, *, attack: str | None = None, category: str | None = None) -> str | None:
        """MITRE ATT&CK technique id for an attack name, else for its category."""
        if attack is not None and attack in self.technique_of_attack:
            return self.technique_of_attack[attack]
        if category is None and attack is not None:
            category = self.category(attack)
        return None if category is None else self.technique_of_category.get(category)

    def file(self, name: str) -> SourceFile:
        for known in self.files:
            if known.name == name:
                return known
        raise SpecError(f"spec {self.name!r} records no file named {name!r}")


def _fmt(value: float) -> str:
    if value in (np.inf, -np.inf):
        return "∞" if value > 0 else "-∞"
    return f"{value:g}"
