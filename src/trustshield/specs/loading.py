"""Load and validate DatasetSpec YAML files (built-in by name, or any path)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trustshield.errors import SpecError, did_you_mean
from trustshield.utf8 import not_utf8
from trustshield.specs.dataset_spec import (
    ATTACKER_CONTROL,
    COLUMN_TYPES,
    MAX_DECIMALS,
    PREDICATE_OPS,
    RELATION_KINDS,
    REVIEW,
    UNSEEN,
    ColumnSpec,
    DatasetSpec,
    Predicate,
    Relation,
    SourceFile,
    category_text,
    number_text,
)
from trustshield.specs.expressions import ExpressionError, parse_comparison
from trustshield.specs.yaml_shape import need_mapping, no_unknown

TOP_KEYS = {"name", "description", "source", "columns", "relations", "label", "techniques"}
COLUMN_KEYS = {
    "name",
    "type",
    "role",
    "unit",
    "min",
    "max",
    "decimals",
    "values",
    "attacker",
    "description",
    "max_length",
    "not_in",
    "unseen",
}
LABEL_KEYS = {"column", "normal", "categories", "attack_techniques", "closed"}
EXPRESSION_KEYS = {"kind", "name", "expression", "tolerance"}
#: ``values: open`` on a categorical column: no closed list (same as ``unseen: allow``)
OPEN = "open"


def builtin_spec_names() -> list[str]:
    """Names of the specs that ship inside the package (``nsl-kdd``, …)."""
    folder = resources.files("trustshield.specs")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def read_spec_text(name_or_path: str | Path) -> tuple[str, str]:
    """(YAML text, where it came from) for a spec path or a built-in spec name."""
    path = Path(name_or_path)
    if path.is_file() or path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise SpecError(f"spec file not found: {path}")
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except UnicodeDecodeError:
            raise not_utf8(path, path, SpecError) from None
    if str(name_or_path) in builtin_spec_names():
        res = resources.files("trustshield.specs") / f"{name_or_path}.yaml"
        return res.read_text(encoding="utf-8"), f"built-in spec {name_or_path}"
    names = builtin_spec_names()
    raise SpecError(
        f"unknown spec {str(name_or_path)!r}{did_you_mean(str(name_or_path), names)}: "
        f"expected a YAML path or one of {', '.join(names)}"
    )


def load_spec(name_or_path: str | Path) -> DatasetSpec:
    """Load a built-in spec by name, or a YAML file by path; validate it fully."""
    return spec_from_text(*read_spec_text(name_or_path))


def spec_from_text(text: str, origin: str) -> DatasetSpec:
    """Parse and validate spec YAML; ``origin`` names it in error messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{origin}: not valid YAML: {exc}") from None
    return parse_spec(raw, origin=origin)


def parse_spec(raw: Any, *, origin: str = "spec") -> DatasetSpec:
    """Build a DatasetSpec from parsed YAML; every problem names the key that holds it."""
    need_mapping(raw, origin)
    no_unknown(raw, TOP_KEYS, origin)
    columns = tuple(
        _column(c, f"{origin}: columns[{i}]") for i, c in enumerate(_list(raw, "columns", origin))
    )
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise SpecError(f"{origin}: columns: duplicate names {dup}")
    by_name = {c.name: c for c in columns}
    relations = tuple(
        _relation(r, by_name, f"{origin}: relations[{i}]")
        for i, r in enumerate(raw.get("relations") or [])
    )
    label = raw.get("label") or {}
    need_mapping(label, f"{origin}: label")
    no_unknown(label, LABEL_KEYS, f"{origin}: label")
    label_column = label.get("column")
    if label_column is not None and label_column not in by_name:
        raise SpecError(f"{origin}: label.column {label_column!r} is not a declared column")
    closed = label.get("closed", False)
    if not isinstance(closed, bool):
        raise SpecError(
            f"{origin}: label.closed must be true or false (true: every attack label in "
            f"training data must be listed under label.categories), got {closed!r}"
        )
    techniques = {str(k): str(v) for k, v in (raw.get("techniques") or {}).items()}
    cat_of_attack, tech_of_cat = _categories(label.get("categories") or {}, techniques, origin)
    tech_of_attack = {
        str(attack): _optional_technique(
            tech, techniques, f"{origin}: label.attack_techniques.{attack}"
        )
        for attack, tech in (label.get("attack_techniques") or {}).items()
    }
    source = raw.get("source") or {}
    return DatasetSpec(
        name=str(_required(raw, "name", origin)),
        columns=columns,
        label_column=label_column,
        normal_label=label.get("normal"),
        relations=relations,
        category_of_attack=cat_of_attack,
        technique_of_category=tech_of_cat,
        technique_of_attack=tech_of_attack,
        technique_names=techniques,
        closed_labels=closed,
        files=tuple(
            _source_file(f, f"{origin}: source.files[{i}]")
            for i, f in enumerate(source.get("files") or [])
        ),
        dataset=source.get("dataset"),
        file_format=source.get("format", "csv"),
        header=bool(source.get("header", True)),
        description=str(raw.get("description", "")),
    )


def _column(raw: Any, where: str) -> ColumnSpec:
    need_mapping(raw, where)
    no_unknown(raw, COLUMN_KEYS, where)
    name, ctype = str(_required(raw, "name", where)), _required(raw, "type", where)
    where = f"{where} ({name})"
    if ctype not in COLUMN_TYPES:
        raise SpecError(f"{where}: type {ctype!r} is not one of {list(COLUMN_TYPES)}")
    attacker = raw.get("attacker", "fixed")
    if attacker not in (*ATTACKER_CONTROL, REVIEW):
        raise SpecError(
            f"{where}: attacker {attacker!r} is not one of {list(ATTACKER_CONTROL)} "
            f"(or {REVIEW!r} in a draft: treated as 'fixed' until a person decides)"
        )
    values, unseen = _values(raw, ctype, where)
    lo, hi = (_number(raw.get(key), f"{where}: {key}") for key in ("min", "max"))
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"{where}: min {lo} is greater than max {hi}")
    decimals = raw.get("decimals")
    if decimals is not None and (
        ctype not in ("real", "rate")
        or not isinstance(decimals, int)
        or isinstance(decimals, bool)
        or not 0 <= decimals <= MAX_DECIMALS
    ):
        raise SpecError(
            f"{where}: decimals {decimals!r} must be a whole number 0-{MAX_DECIMALS} on a "
            "real or rate column (the resolution values are recorded with; float64 holds "
            f"15-17 significant digits, so more than {MAX_DECIMALS} decimals cannot be told "
            "apart)"
        )
    max_length = raw.get("max_length")
    if max_length is not None and (
        ctype != "label"
        or not isinstance(max_length, int)
        or isinstance(max_length, bool)
        or max_length < 1
    ):
        raise SpecError(
            f"{where}: max_length {max_length!r} must be a whole number ≥ 1 on a "
            "label column (the longest value accepted, in characters)"
        )
    role = raw.get("role", "label" if ctype == "label" else "feature")
    if role not in ("feature", "label", "metadata"):
        raise SpecError(f"{where}: role {role!r} is not one of ['feature', 'label', 'metadata']")
    return ColumnSpec(
        name=name,
        type=ctype,
        role=role,
        unit=raw.get("unit"),
        min=lo,
        max=hi,
        decimals=decimals,
        values=values,
        attacker="fixed" if attacker == REVIEW else attacker,
        description=str(raw.get("description", "")),
        max_length=max_length,
        not_in=_not_in(raw.get("not_in"), ctype, values, where),
        unseen=unseen,
        needs_review=attacker == REVIEW,
    )


def _values(raw: Mapping[str, Any], ctype: str, where: str) -> tuple[tuple[str, ...], str]:
    """(listed values, unseen) of a column: ``values: open`` or ``unseen: allow`` make a
    categorical column open; listed numbers are written in canonical form when every
    listed value is a number (``6.0`` → ``6``)."""
    listed = raw.get("values")
    unseen = raw.get("unseen", "reject")
    if unseen not in UNSEEN:
        raise SpecError(f"{where}: unseen {unseen!r} is not one of {list(UNSEEN)}")
    if listed == OPEN:
        listed, unseen = [], "allow"
    if listed is not None and not isinstance(listed, (list, tuple)):
        raise SpecError(f"{where}: values must be a list or {OPEN!r}, got {listed!r}")
    if ctype != "categorical":
        if unseen != "reject" or raw.get("values") == OPEN:
            raise SpecError(f"{where}: only a categorical column can be open (unseen: allow)")
        return tuple(str(v) for v in listed or ()), "reject"
    if not listed and unseen == "reject":
        raise SpecError(
            f"{where}: a categorical column needs a non-empty 'values' list, or "
            f"'values: {OPEN}' (any value; one not seen in training is encoded as unseen)"
        )
    listed = list(listed or [])
    numeric = bool(listed) and all(number_text(v) is not None for v in listed)
    texts = tuple(category_text(v, numeric=numeric) for v in listed)
    duplicates = sorted(t for t, n in Counter(texts).items() if n > 1)
    if duplicates:
        compared = " (compared as numbers: 6, 6.0 and '6' are one value)" if numeric else ""
        raise SpecError(f"{where}: values lists {duplicates} more than once{compared}")
    return texts, unseen


def _not_in(raw: Any, ctype: str, values: tuple[str, ...], where: str) -> tuple[str | float, ...]:
    """A column's excluded values: text for a categorical column (normalised like its
    values), whole numbers for an integer column."""
    if raw is None:
        return ()
    if ctype not in ("categorical", "integer"):
        raise SpecError(
            f"{where}: not_in applies to categorical and integer columns (exact values), "
            f"not to a {ctype} column"
        )
    if not isinstance(raw, list) or not raw:
        raise SpecError(f"{where}: not_in must be a non-empty list, got {raw!r}")
    if ctype == "categorical":
        numeric = bool(values) and all(number_text(v) is not None for v in values)
        return tuple(category_text(v, numeric=numeric) for v in raw)
    numbers = []
    for value in raw:
        number = _number(value, f"{where}: not_in")
        if number is None or number != int(number):
            raise SpecError(
                f"{where}: not_in of an integer column lists {value!r}, not a whole number"
            )
        numbers.append(number)
    return tuple(numbers)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SpecError(f"{where}: expected a number, got {value!r}") from None


def _predicate(raw: Any, columns: Mapping[str, ColumnSpec], where: str) -> Predicate:
    need_mapping(raw, where)
    column = _required(raw, "column", where)
    if column not in columns:
        raise SpecError(f"{where}: column {column!r} is not declared in columns")
    ops = [op for op in PREDICATE_OPS if op in raw]
    if len(ops) != 1:
        raise SpecError(
            f"{where}: expected exactly one of {list(PREDICATE_OPS)}, got {sorted(raw)}"
        )
    op, value = ops[0], raw[ops[0]]
    spec = columns[column]
    if op in ("in", "not_in"):
        if not isinstance(value, (list, tuple)):
            raise SpecError(f"{where}: {op} needs a list of values, got {value!r}")
        return Predicate(
            column=column, op=op, value=tuple(_predicate_value(v, spec, op, where) for v in value)
        )
    if op == "equals":
        value = _predicate_value(value, spec, op, where)
    return Predicate(column=column, op=op, value=value)


def _predicate_value(value: Any, column: ColumnSpec, op: str, where: str) -> Any:
    """A value a predicate compares ``column`` with, as the checked data hold it: a number
    for a numeric column, text for a categorical one (numbers normalised like its values)."""
    if column.is_numeric:
        number = _number(value, f"{where}: {op}")
        if number is None:
            raise SpecError(f"{where}: {op}: expected a number, got None")
        return number
    if column.type == "categorical":
        return category_text(value, numeric=column.numeric_categories)
    return value


def _relation(raw: Any, columns: Mapping[str, ColumnSpec], where: str) -> Relation:
    need_mapping(raw, where)
    kind = raw.get("kind", "expression" if "expression" in raw else None)
    if kind not in RELATION_KINDS:
        raise SpecError(f"{where}: kind {kind!r} is not one of {list(RELATION_KINDS)}")
    name = str(raw.get("name", kind))
    if kind == "expression":
        return _expression(raw, columns, name, where)
    if kind == "implies":
        return Relation(
            kind=kind,
            name=name,
            condition=_predicate(_required(raw, "if", where), columns, f"{where}.if"),
            consequence=_predicate(_required(raw, "then", where), columns, f"{where}.then"),
        )
    cols = tuple(_required(raw, "columns", where))
    missing = [c for c in cols if c not in columns]
    if missing or len(cols) < 2:
        raise SpecError(
            f"{where}: sum_at_most needs two or more declared columns; unknown: {missing}"
        )
    return Relation(
        kind=kind,
        name=name,
        columns=cols,
        limit=float(raw.get("limit", 1.0)),
        tolerance=float(raw.get("tolerance", 0.0)),
    )


def _expression(
    raw: Mapping[str, Any], columns: Mapping[str, ColumnSpec], name: str, where: str
) -> Relation:
    """An ``expression`` relation: the text parses, names only declared numeric columns."""
    where = f"{where} ({name})"
    no_unknown(raw, EXPRESSION_KEYS, where)
    text = _required(raw, "expression", where)
    if not isinstance(text, str):
        raise SpecError(f"{where}: expression must be text such as 'a = b + c', got {text!r}")
    try:
        comparison = parse_comparison(text)
    except ExpressionError as exc:
        raise SpecError(f"{where}: expression {exc}") from None
    for column in comparison.columns():
        if column not in columns:
            raise SpecError(
                f"{where}: expression {text!r} names column {column!r}, which is not "
                "declared in columns (backquote a name with spaces or symbols: `a b`)"
            )
        if not columns[column].is_numeric:
            raise SpecError(
                f"{where}: expression {text!r} does arithmetic on {column!r}, a "
                f"{columns[column].type} column; only numeric columns may appear"
            )
    if not comparison.columns():
        raise SpecError(f"{where}: expression {text!r} names no column")
    tolerance = _number(raw.get("tolerance", 0.0), f"{where}: tolerance")
    if tolerance is None or not tolerance >= 0:
        raise SpecError(f"{where}: tolerance must be a number ≥ 0, got {tolerance!r}")
    return Relation(kind="expression", name=name, expression=text, tolerance=tolerance)


def _categories(
    raw: Mapping[str, Any], techniques: Mapping[str, str], origin: str
) -> tuple[dict[str, str], dict[str, str | None]]:
    cat_of_attack: dict[str, str] = {}
    tech_of_cat: dict[str, str | None] = {}
    for category, body in raw.items():
        where = f"{origin}: label.categories.{category}"
        need_mapping(body, where)
        no_unknown(body, {"technique", "attacks"}, where)
        tech_of_cat[str(category)] = _optional_technique(body.get("technique"), techniques, where)
        for attack in body.get("attacks") or []:
            if attack in cat_of_attack:
                raise SpecError(
                    f"{where}: attack {attack!r} is already in {cat_of_attack[attack]!r}"
                )
            cat_of_attack[str(attack)] = str(category)
    return cat_of_attack, tech_of_cat


def _source_file(raw: Any, where: str) -> SourceFile:
    need_mapping(raw, where)
    sha = str(_required(raw, "sha256", where)).lower()
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise SpecError(f"{where}: sha256 must be 64 hex digits, got {sha!r}")
    return SourceFile(
        name=str(_required(raw, "name", where)),
        sha256=sha,
        rows=raw.get("rows"),
        role=str(raw.get("role", "test")),
        url=raw.get("url"),
    )


def _optional_technique(tech: Any, techniques: Mapping[str, str], where: str) -> str | None:
    """A technique id listed under 'techniques', or None (absent or null: none fits)."""
    if tech is None:
        return None
    if str(tech) not in techniques:
        raise SpecError(f"{where}: technique {tech!r} is not listed under 'techniques'")
    return str(tech)


def _required(raw: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in raw or raw[key] is None:
        raise SpecError(f"{where}: missing required key {key!r}")
    return raw[key]


def _list(raw: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = _required(raw, key, where)
    if not isinstance(value, list) or not value:
        raise SpecError(f"{where}: {key!r} must be a non-empty list")
    return value
