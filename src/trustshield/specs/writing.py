"""Write a DatasetSpec as YAML text: the inverse of :func:`~trustshield.specs.loading.parse_spec`.

A model folder keeps its spec as YAML (``spec.yaml``). A spec loaded from a file keeps that
file's text; a spec built or changed in Python is written here, so that
``parse_spec(yaml.safe_load(spec_yaml(spec))) == spec`` for every valid spec. YAML comments
are not part of a DatasetSpec and are not written.
"""

from __future__ import annotations

from typing import Any

import yaml

from trustshield.errors import SpecError
from trustshield.specs.dataset_spec import (
    REVIEW,
    ColumnSpec,
    DatasetSpec,
    Predicate,
    Relation,
    SourceFile,
)


def spec_yaml(spec: DatasetSpec) -> str:
    """``spec`` as YAML text that loads back to an equal DatasetSpec."""
    return str(yaml.safe_dump(spec_document(spec), sort_keys=False, allow_unicode=True, width=100))


def spec_document(spec: DatasetSpec) -> dict[str, Any]:
    """``spec`` as the plain mapping a spec YAML file holds (keys as in ``loading.TOP_KEYS``)."""
    source: dict[str, Any] = {"format": spec.file_format, "header": spec.header}
    if spec.dataset is not None:
        source["dataset"] = spec.dataset
    if spec.files:
        source["files"] = [_file(f) for f in spec.files]
    doc: dict[str, Any] = {
        "name": spec.name,
        "description": spec.description,
        "source": source,
        "columns": [_column(c) for c in spec.columns],
    }
    if spec.relations:
        doc["relations"] = [_relation(r) for r in spec.relations]
    doc["label"] = _label(spec)
    if spec.technique_names:
        doc["techniques"] = dict(spec.technique_names)
    return doc


def _column(column: ColumnSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": column.name,
        "type": column.type,
        "role": column.role,
        "attacker": REVIEW if column.needs_review else column.attacker,
    }
    optional = {
        "unit": column.unit,
        "min": column.min,
        "max": column.max,
        "decimals": column.decimals,
        "max_length": column.max_length,
    }
    out.update({key: value for key, value in optional.items() if value is not None})
    if column.values:
        out["values"] = list(column.values)
    if column.is_open:
        out["unseen"] = "allow"
    if column.not_in:
        out["not_in"] = list(column.not_in)
    if column.description:
        out["description"] = column.description
    return out


def _predicate(predicate: Predicate) -> dict[str, Any]:
    value = list(predicate.value) if predicate.op in ("in", "not_in") else predicate.value
    return {"column": predicate.column, predicate.op: value}


def _relation(relation: Relation) -> dict[str, Any]:
    if relation.kind == "implies":
        if relation.condition is None or relation.consequence is None:
            raise SpecError(
                f"relation {relation.name!r}: an implies relation needs both its "
                "condition (if) and its consequence (then)"
            )
        return {
            "kind": relation.kind,
            "name": relation.name,
            "if": _predicate(relation.condition),
            "then": _predicate(relation.consequence),
        }
    if relation.kind == "expression":
        return {
            "kind": relation.kind,
            "name": relation.name,
            "expression": relation.expression,
            "tolerance": relation.tolerance,
        }
    return {
        "kind": relation.kind,
        "name": relation.name,
        "columns": list(relation.columns),
        "limit": relation.limit,
        "tolerance": relation.tolerance,
    }


def _label(spec: DatasetSpec) -> dict[str, Any]:
    label: dict[str, Any] = {}
    if spec.label_column is not None:
        label["column"] = spec.label_column
    if spec.normal_label is not None:
        label["normal"] = spec.normal_label
    if spec.closed_labels:
        label["closed"] = True
    if spec.technique_of_category:
        label["categories"] = {
            category: {
                **({} if technique is None else {"technique": technique}),
                "attacks": [a for a, c in spec.category_of_attack.items() if c == category],
            }
            for category, technique in spec.technique_of_category.items()
        }
    if spec.technique_of_attack:
        label["attack_techniques"] = dict(spec.technique_of_attack)
    return label


def _file(file: SourceFile) -> dict[str, Any]:
    out: dict[str, Any] = {"name": file.name, "sha256": file.sha256, "role": file.role}
    if file.rows is not None:
        out["rows"] = file.rows
    if file.url is not None:
        out["url"] = file.url
    return out
