"""Pure: a JSON batch of records in, a validated frame and per-record identities out.

Each record is an object holding the model's spec columns (label and metadata columns
optional) and, optionally, the identity fields :data:`IDENTITY_FIELDS` and the record's own
time ``ts`` (seconds since the Unix epoch, a JSON number), which are not
features: they become the alert's :class:`~trustshield.records.AlertEntities` (stored,
pseudonymised when the store is configured for it) so an analyst can find the host or
user. Any other key, or a missing feature, is a problem naming the row (0-based position in
the batch), the field and what was expected. A batch with any problem is refused whole:
nothing of it is scored or stored.

JSON types are checked before values: a numeric column (integer, real, rate, binary)
takes a JSON number — never a string, never ``true``/``false``; an integer column takes
a whole number, written ``3`` or ``3.0`` (as the CSV reader takes ``3.0``). A categorical
or label column takes a JSON string; a categorical column whose spec lists only numbers
(protocol numbers ``6``, ``17``) also takes a JSON number, compared as a number. Text is bounded: a label or metadata text of at
most the column's ``max_length`` characters (from the spec,
:data:`~trustshield.specs.dataset_spec.DEFAULT_MAX_TEXT` by default), an identity of at
most :data:`MAX_IDENTITY_LENGTH`. Values and names quoted back in problems are cut to 80
characters, expectations to :data:`MAX_EXPECTED_LENGTH`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import RowProblem, check_frame
from trustshield.privacy import IDENTITY_FIELDS, identity_value
from trustshield.records import AlertEntities, entity_value
from trustshield.specs import DatasetSpec

SOURCE = "request"
#: the optional fields of a record that become its entities, not features: who, and when
ENTITY_KEYS = (*IDENTITY_FIELDS, "ts")
MAX_PROBLEMS = 100
MAX_IDENTITY_LENGTH = 256  #: characters of src_ip, dst_ip or user (IPv6 text needs ≤ 45)
MAX_EXPECTED_LENGTH = 300
NUMBER = "a JSON number ({expected}), not {kind}"
TEXT = "a JSON string ({expected}), not {kind}"
TOO_LONG = "at most {limit} characters; got {length}"


@dataclass(frozen=True)
class RequestBatch:
    frame: pd.DataFrame  # (n, columns) typed per spec
    lines: np.ndarray  # (n,) position of each record in the request
    entities: pd.DataFrame | None  # (n, ENTITY_KEYS) per record (None: not given)
    problems: tuple[RowProblem, ...]


def read_records(
    records: list[dict], spec: DatasetSpec, *, max_problems: int = MAX_PROBLEMS
) -> RequestBatch:
    columns = [c.name for c in spec.columns]
    required = [c.name for c in spec.features]
    known = set(columns) | set(ENTITY_KEYS)
    by_name = {c.name: c for c in spec.columns}
    problems: list[RowProblem] = []
    entities = []
    for i, record in enumerate(records):
        for key in sorted(record.keys() - known):
            problems.append(
                RowProblem(
                    SOURCE,
                    i,
                    shortened(key),
                    shortened(record[key]),
                    f"no such field: a column of spec {spec.name!r} or one of {list(ENTITY_KEYS)}",
                )
            )
        for name in required:
            if record.get(name) is None:
                problems.append(RowProblem(SOURCE, i, name, "", "a value (the field is missing)"))
        mistyped = _type_problems(i, record, by_name)
        problems.extend(mistyped)
        entities.append(identities_of(i, record, problems, skip={p.column for p in mistyped}))
        if len(problems) >= max_problems:
            break
    lines = np.arange(len(records), dtype=np.int64)
    if problems:
        return RequestBatch(pd.DataFrame(), lines[:0], None, tuple(problems[:max_problems]))
    present = [c for c in columns if any(c in r for r in records)]
    raw = pd.DataFrame.from_records(records, columns=present)
    checked = check_frame(raw, spec, file=SOURCE, lines=lines)
    if checked.problems:
        return RequestBatch(pd.DataFrame(), lines[:0], None, checked.problems[:max_problems])
    return RequestBatch(
        checked.frame,
        checked.lines,
        pd.DataFrame([e.as_dict() for e in entities], columns=list(ENTITY_KEYS), dtype=object),
        (),
    )


def _type_problems(i: int, record: dict, columns: dict) -> list[RowProblem]:
    """Fields of one record whose JSON type its column does not take, or whose text is
    longer than allowed (see the module docstring)."""
    found = []
    for key, value in record.items():
        if value is None:
            continue
        column = columns.get(key)
        if column is None:
            if (
                key in IDENTITY_FIELDS
                and isinstance(value, str)
                and len(value) > MAX_IDENTITY_LENGTH
            ):
                found.append(
                    RowProblem(
                        SOURCE,
                        i,
                        key,
                        shortened(value),
                        TOO_LONG.format(limit=MAX_IDENTITY_LENGTH, length=len(value)),
                    )
                )
            continue
        if column.is_numeric:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                found.append(
                    RowProblem(
                        SOURCE,
                        i,
                        key,
                        shortened(value),
                        NUMBER.format(expected=column.expected(), kind=json_kind(value)),
                    )
                )
        elif not isinstance(value, str) and not _category_number(column, value):
            found.append(
                RowProblem(
                    SOURCE,
                    i,
                    key,
                    shortened(value),
                    TEXT.format(
                        expected=column.expected() if column.type == "categorical" else "text",
                        kind=json_kind(value),
                    ),
                )
            )
        elif column.type != "categorical" and len(value) > column.text_limit:
            found.append(
                RowProblem(
                    SOURCE,
                    i,
                    key,
                    shortened(value),
                    TOO_LONG.format(limit=column.text_limit, length=len(value)),
                )
            )
    return found


def _category_number(column, value) -> bool:
    """A JSON number given for a categorical column whose listed values are all numbers
    (``6`` for the category ``6``: it compares as a number, see ``ColumnSpec.category_texts``)."""
    return (
        column.type == "categorical"
        and column.numeric_categories
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    )


def json_kind(value) -> str:
    """How a JSON value is named in a problem ("a string", "true", "int", ...)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "a string" if isinstance(value, str) else type(value).__name__


def identities_of(
    i: int, record: dict, problems: list[RowProblem], skip=frozenset()
) -> AlertEntities:
    """The record's entities (identity fields and ``ts``), checked (addresses must be
    addresses, not pseudonyms; ``ts`` a number in range) and in standard form; bad ones
    become problems (those in ``skip`` already are)."""
    found = {}
    for key in ENTITY_KEYS:
        if record.get(key) is not None and key not in skip:
            try:
                value = record[key]
                if key in IDENTITY_FIELDS:
                    value = identity_value(key, value)
                elif isinstance(value, (bool, str)):  # a time is a JSON number
                    raise DataError(f"ts must be a JSON number of seconds; got {value!r}")
                found[key] = entity_value(key, value)
            except DataError as exc:
                problems.append(RowProblem(SOURCE, i, key, shortened(record[key]), str(exc)))
    return AlertEntities(**found)


def problem_details(problems) -> list[dict]:
    return [
        {
            "row": p.line,
            "field": shortened(p.column),
            "value": shortened(p.value),
            "expected": shortened(p.expected, MAX_EXPECTED_LENGTH),
        }
        for p in problems
    ]


def shortened(value, limit: int = 80) -> str:
    """``value`` as text of at most ``limit`` characters (cut with "...")."""
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
