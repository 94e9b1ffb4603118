"""Load and validate DatasetSpec YAML files (built-in by name, or any path)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from trustshield.errors import SpecError
from trustshield.utf8 import not_utf8
from trustshield.specs.dataset_spec import (
    ATTACKER_CONTROL,
    COLUMN_TYPES,
    PREDICATE_OPS,
    RELATION_KINDS,
    ColumnSpec,
    DatasetSpec,
    Predicate,
    Relation,
    SourceFile,
)
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
}


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
    raise SpecError(
        f"unknown spec {str(name_or_path)!r}: expected a YAML path or one of {builtin_spec_names()}"
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
    label_column = label.get("column")
    if label_column is not None and label_column not in by_name:
        raise SpecError(f"{origin}: label.column {label_column!r} is not a declared column")
    techniques = {str(k): str(v) for k, v in (raw.get("techniques") or {}).items()}
    cat_of_attack, tech_of_cat = _categories(label.get("categories") or {}, techniques, origin)
    tech_of_attack = {str(k): str(v) for k, v in (label.get("attack_techniques") or {}).items()}
    for attack, tech in tech_of_attack.items():
        _known_technique(tech, techniques, f"{origin}: label.attack_techniques.{attack}")
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
    if attacker not in ATTACKER_CONTROL:
        raise SpecError(f"{where}: attacker {attacker!r} is not one of {list(ATTACKER_CONTROL)}")
    values = tuple(str(v) for v in raw.get("values") or ())
    if ctype == "categorical" and not values:
        raise SpecError(f"{where}: a categorical column needs a non-empty 'values' list")
    lo, hi = (_number(raw.get(key), f"{where}: {key}") for key in ("min", "max"))
    if lo is not None and hi is not None and lo > hi:
        raise SpecError(f"{where}: min {lo} is greater than max {hi}")
    decimals = raw.get("decimals")
    if decimals is not None and (
        ctype not in ("real", "rate")
        or not isinstance(decimals, int)
        or isinstance(decimals, bool)
        or not 0 <= decimals <= 12
    ):
        raise SpecError(
            f"{where}: decimals {decimals!r} must be a whole number 0-12 on a real "
            "or rate column (the resolution values are recorded with)"
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
        attacker=attacker,
        description=str(raw.get("description", "")),
        max_length=max_length,
    )


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
    value = raw[ops[0]]
    if ops[0] == "in":
        value = tuple(value)
    return Predicate(column=column, op=ops[0], value=value)


def _relation(raw: Any, columns: Mapping[str, ColumnSpec], where: str) -> Relation:
    need_mapping(raw, where)
    kind = raw.get("kind")
    if kind not in RELATION_KINDS:
        raise SpecError(f"{where}: kind {kind!r} is not one of {list(RELATION_KINDS)}")
    name = str(raw.get("name", kind))
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


def _categories(
    raw: Mapping[str, Any], techniques: Mapping[str, str], origin: str
) -> tuple[dict[str, str], dict[str, str]]:
    cat_of_attack: dict[str, str] = {}
    tech_of_cat: dict[str, str] = {}
    for category, body in raw.items():
        where = f"{origin}: label.categories.{category}"
        need_mapping(body, where)
        tech_of_cat[str(category)] = _known_technique(
            _required(body, "technique", where), techniques, where
        )
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


def _known_technique(tech: Any, techniques: Mapping[str, str], where: str) -> str:
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
