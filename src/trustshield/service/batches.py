"""Pure: a JSON batch of records in, a validated frame and per-record identities out.

Each record is an object holding the model's spec columns (label and metadata columns
optional) and, optionally, the identity fields :data:`IDENTITY_FIELDS`, which are not
features: they become the alert's :class:`~trustshield.records.AlertEntities` (stored,
pseudonymised when the store is configured for it) so an analyst can find the host or
user. Any other key, or a missing feature, is a problem naming the row (0-based position in
the batch), the field and what was expected. A batch with any problem is refused whole:
nothing of it is scored or stored.
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
MAX_PROBLEMS = 100


@dataclass(frozen=True)
class RequestBatch:
    frame: pd.DataFrame        # (n, columns) typed per spec
    lines: np.ndarray          # (n,) position of each record in the request
    entities: pd.DataFrame | None  # (n, IDENTITY_FIELDS) identities per record (NaN: not given)
    problems: tuple[RowProblem, ...]


def read_records(records: list[dict], spec: DatasetSpec) -> RequestBatch:
    columns = [c.name for c in spec.columns]
    required = [c.name for c in spec.features]
    known = set(columns) | set(IDENTITY_FIELDS)
    problems: list[RowProblem] = []
    entities = []
    for i, record in enumerate(records):
        for key in record.keys() - known:
            problems.append(RowProblem(SOURCE, i, key, _short(record[key]),
                                       "no such field: a column of spec "
                                       f"{spec.name!r} or one of {list(IDENTITY_FIELDS)}"))
        for name in required:
            if record.get(name) is None:
                problems.append(RowProblem(SOURCE, i, name, "", "a value (the field is missing)"))
        entities.append(_identities(i, record, problems))
    lines = np.arange(len(records), dtype=np.int64)
    if problems:
        return RequestBatch(pd.DataFrame(), lines[:0], None, tuple(problems[:MAX_PROBLEMS]))
    present = [c for c in columns if any(c in r for r in records)]
    raw = pd.DataFrame.from_records(records, columns=present)
    checked = check_frame(raw, spec, file=SOURCE, lines=lines)
    if checked.problems:
        return RequestBatch(pd.DataFrame(), lines[:0], None, checked.problems[:MAX_PROBLEMS])
    return RequestBatch(checked.frame, checked.lines,
                        pd.DataFrame([e.as_dict() for e in entities], columns=list(IDENTITY_FIELDS),
                                     dtype=object), ())


def _identities(i: int, record: dict, problems: list[RowProblem]) -> AlertEntities:
    """The record's identity fields, checked (addresses must be addresses, not pseudonyms)
    and in standard form; bad ones become problems."""
    found = {}
    for key in IDENTITY_FIELDS:
        if record.get(key) is not None:
            try:
                found[key] = entity_value(key, identity_value(key, record[key]))
            except DataError as exc:
                problems.append(RowProblem(SOURCE, i, key, _short(record[key]), str(exc)))
    return AlertEntities(**found)


def problem_details(problems) -> list[dict]:
    return [{"row": p.line, "field": p.column, "value": p.value, "expected": p.expected}
            for p in problems]


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
