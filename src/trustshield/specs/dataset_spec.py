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
from trustshield.specs.expressions import Comparison, ExpressionError, parse_comparison

# Columns by name: a DataFrame or a mapping of column name → array of shape (n,).
Columns: TypeAlias = "pd.DataFrame | Mapping[str, Any]"

COLUMN_TYPES = ("integer", "real", "rate", "binary", "categorical", "label")
ATTACKER_CONTROL = ("fixed", "increase", "decrease", "any")
#: what ``attacker: review`` (a drafted spec) means until a person sets it: ``fixed``
REVIEW = "review"
PREDICATE_OPS = ("in", "not_in", "equals", "above", "at_most")
DEFAULT_MAX_TEXT = 200  #: characters of a label column's value unless its spec says max_length
RELATION_KINDS = ("implies", "sum_at_most", "expression")
#: most decimals a real or rate column may declare (a value below 0.1 written to 18
#: decimals still fits float64's 15-17 significant digits)
MAX_DECIMALS = 18
UNSEEN = ("reject", "allow")  #: what a categorical column does with a value not in its list


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
    #: values the column never holds: text for a categorical, numbers for an integer column
    not_in: tuple[str | float, ...] = ()
    unseen: str = "reject"  # categorical: "allow" accepts values outside ``values``
    needs_review: bool = False  # ``attacker: review``: treated as fixed until a person decides

    @property
    def is_open(self) -> bool:
        """A categorical column that accepts values outside its list (``unseen: allow``)."""
        return self.unseen == "allow"

    @property
    def numeric_categories(self) -> bool:
        """A categorical column whose listed values are all numbers: its values compare as
        numbers (``6``, ``6.0`` and ``"6"`` are one category, written ``6``)."""
        return bool(self.values) and all(number_text(v) is not None for v in self.values)

    def category_texts(self, values: Any) -> np.ndarray:
        """Values of this categorical column as the spec writes them, object array (n,):
        numbers normalised (``6.0`` → ``6``) when :attr:`numeric_categories`, else as text;
        a missing value stays missing."""
        return category_texts(values, numeric=self.numeric_categories)

    def refused_categories(self, values: np.ndarray) -> np.ndarray:
        """Mask (n,) of categorical ``values`` (as :meth:`category_texts` gives them) that
        the column refuses: outside its list unless it is open (``unseen: allow``: any
        value of at most :data:`DEFAULT_MAX_TEXT` characters), or listed under ``not_in``.
        Missing values are the caller's to judge."""
        refused = set(self.not_in)
        if self.is_open:
            return np.fromiter(
                (v in refused or len(str(v)) > DEFAULT_MAX_TEXT for v in values), bool, len(values)
            )
        allowed = set(self.values) - refused
        return np.fromiter((v not in allowed for v in values), bool, len(values))

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
        excluded = f", not one of {_shown(self.not_in)}" if self.not_in else ""
        if self.type == "categorical":
            if self.is_open:
                return f"a non-empty value of at most {DEFAULT_MAX_TEXT} characters{excluded}"
            return f"one of {_shown(self.values)}{excluded}"
        if self.type == "binary":
            return "0 or 1"
        lo, hi = self.bounds()
        kind = "an integer" if self.type == "integer" else "a number"
        grid = "" if self.decimals is None else f" with at most {self.decimals} decimals"
        return f"{kind} in [{_fmt(lo)}, {_fmt(hi)}]{grid}{excluded}"


@dataclass(frozen=True)
class Predicate:
    """A test on one column: ``in`` or ``not_in`` a set, ``equals``, ``above`` or ``at_most``
    a value."""

    column: str
    op: str
    value: Any

    def holds(self, frame: Columns) -> np.ndarray:
        """Boolean mask, shape (n,), on a DataFrame or a mapping of column → array; a missing
        value never holds."""
        values = np.asarray(frame[self.column])
        if self.op in ("in", "not_in"):
            if values.dtype == object:  # hashed membership: "tcp" == "tcp", 6 == 6.0
                member = pd.Series(values, dtype=object).isin(list(self.value)).to_numpy()
            else:
                member = np.asarray(np.isin(values, list(self.value)))
            return np.asarray((member if self.op == "in" else ~member) & ~pd.isna(values))
        if values.dtype == object and self.op != "equals":  # text order: pandas' rules
            series = pd.Series(values)
            return np.asarray(series > self.value if self.op == "above" else series <= self.value)
        with np.errstate(invalid="ignore"):
            if self.op == "equals":
                return np.asarray(values == self.value)
            return np.asarray(values > self.value if self.op == "above" else values <= self.value)

    def describe(self) -> str:
        listed = self.op in ("in", "not_in")
        shown = (
            "{" + ", ".join(map(_value_text, self.value)) + "}"
            if listed
            else _value_text(self.value)
        )
        return f"{self.column} {self.op.replace('_', ' ')} {shown}"


@dataclass(frozen=True)
class Relation:
    """A constraint between columns that every valid record satisfies.

    ``implies``: if ``condition`` holds then ``consequence`` holds. ``sum_at_most``: the
    ``columns`` add up to at most ``limit`` (+ ``tolerance``). ``expression``: the comparison
    ``expression`` of arithmetic over columns holds (see :mod:`.expressions`), ``=`` within
    ``tolerance`` (absolute) plus a relative 1e-9.
    """

    kind: str
    name: str
    condition: Predicate | None = None
    consequence: Predicate | None = None
    columns: tuple[str, ...] = ()
    limit: float = 1.0
    tolerance: float = 0.0
    expression: str = ""

    @property
    def comparison(self) -> Comparison:
        """The parsed ``expression`` of an "expression" relation; SpecError for another kind
        or a text that does not parse."""
        if self.kind != "expression":
            raise SpecError(f"relation {self.name!r} is {self.kind!r}, not an expression")
        try:
            return parse_comparison(self.expression)
        except ExpressionError as exc:
            raise SpecError(f"relation {self.name!r}: {exc}") from None

    @property
    def derived_column(self) -> str | None:
        """The column an ``expression`` relation ``name = expression`` defines, else None."""
        return self.comparison.derived_column() if self.kind == "expression" else None

    def violated(self, frame: Columns) -> np.ndarray:
        """Boolean mask of records that break the relation, shape (n,), on a DataFrame or a
        mapping of column → array (missing values count as 0 in a sum; an expression that
        is undefined on a row, e.g. a division by zero, does not flag it)."""
        if self.kind == "implies":
            condition, consequence = self._implication()
            return np.asarray(condition.holds(frame) & ~consequence.holds(frame))
        if self.kind == "expression":
            return self.comparison.violated(frame, self.tolerance)
        parts = [np.asarray(frame[c], dtype=np.float64) for c in self.columns]
        total = np.nansum(np.column_stack(parts), axis=1)
        return np.asarray(total > self.limit + self.tolerance)

    def involved(self) -> tuple[str, ...]:
        if self.kind == "implies":
            condition, consequence = self._implication()
            return (condition.column, consequence.column)
        if self.kind == "expression":
            return self.comparison.columns()
        return self.columns

    def describe(self) -> str:
        if self.kind == "implies":
            condition, consequence = self._implication()
            return f"if {condition.describe()} then {consequence.describe()}"
        if self.kind == "expression":
            within = f" (± {_fmt(self.tolerance)})" if self.tolerance else ""
            return f"{self.comparison.text()}{within}"
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
    #: ATT&CK technique per category; None where no technique fits
    technique_of_category: dict[str, str | None] = field(default_factory=dict)
    #: per-attack overrides of the category's technique; None: this attack has none
    technique_of_attack: dict[str, str | None] = field(default_factory=dict)
    technique_names: dict[str, str] = field(default_factory=dict)
    #: ``label.closed``: every non-normal label in training data must be in the categories
    closed_labels: bool = False
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
        """MITRE ATT&CK technique id for an attack name, else for its category; None when
        the spec gives none (a category or attack may declare no technique)."""
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


def _value_text(value: Any) -> str:
    """A listed value as a spec writes it: whole floats without ".0"."""
    if isinstance(value, float) and np.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def _shown(values: tuple[Any, ...]) -> str:
    listed = ", ".join(map(_value_text, values[:12])) + (", …" if len(values) > 12 else "")
    return f"{{{listed}}}"


def number_text(value: Any) -> str | None:
    """``value``'s canonical text as a number (``6.0`` and ``"6"`` → ``"6"``, ``"0.50"`` →
    ``"0.5"``), or None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if not np.isfinite(number):
        return None
    if number == int(number) and abs(number) < 2**63:
        return str(int(number))
    return repr(number)


def category_text(value: Any, *, numeric: bool) -> str:
    """One category value as text; with ``numeric``, a number in its canonical form."""
    if numeric:
        canonical = number_text(value)
        if canonical is not None:
            return canonical
    if isinstance(value, float) and np.isfinite(value) and value == int(value):
        return str(int(value))  # a YAML 6.0 in a list of names is the category "6"
    return str(value)


def category_texts(values: Any, *, numeric: bool) -> np.ndarray:
    """:func:`category_text` of each value (object array, shape (n,)); missing stays missing.
    Distinct values are converted once, so a batch costs one pass per distinct value."""
    array = np.asarray(values, dtype=object)
    if not numeric:
        return array
    missing = pd.isna(array)
    out = array.copy()
    lookup: dict[Any, str] = {}
    for i in np.flatnonzero(~missing):
        value = array[i]
        key = (type(value), value)
        text = lookup.get(key)
        if text is None:
            text = lookup[key] = category_text(value, numeric=True)
        out[i] = text
    return out
