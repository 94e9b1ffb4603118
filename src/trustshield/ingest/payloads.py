"""EDGE: read labelled web-request parameter values (one payload per row) from CSV.

The table needs a ``payload`` column (the parameter value as text) and, for training or
evaluation, an ``attack_type`` column: the normal label (``norm`` in HttpParamsDataset,
or ``normal``) or an attack type (``sqli``, ``xss``, ``cmdi``, ``path-traversal``, or
any other name). Values are read as text exactly as written (an empty value stays an
empty string, never NaN). A file that is not UTF-8, lacks a column or has an empty
attack type is refused with a DataError naming the file, row and column.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from trustshield.errors import DataError

NORMAL_LABELS = ("norm", "normal")
#: longest payload read, in characters (longer rows are refused, naming the row)
MAX_PAYLOAD = 100_000


@dataclass(frozen=True)
class PayloadTable:
    """Payloads (n,) as sent and, when the file has them, their labels (n,): "normal" or an
    attack type name. ``path`` is the file read."""

    payloads: tuple[str, ...]
    attack_types: tuple[str, ...] | None
    path: str

    def __len__(self) -> int:
        return len(self.payloads)


def read_payloads(path: str | Path, *, labelled: bool = True) -> PayloadTable:
    """Read a payload CSV (see the module docstring); ``labelled`` requires ``attack_type``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 text (byte {exc.start}): {exc.reason}") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if not rows:
        raise DataError(f"{path}: empty file; expected a header with a 'payload' column")
    header = [h.strip() for h in rows[0]]
    if "payload" not in header:
        raise DataError(f"{path}: no 'payload' column in the header {header}")
    at = header.index("payload")
    kind = header.index("attack_type") if "attack_type" in header else None
    if labelled and kind is None:
        raise DataError(f"{path}: no 'attack_type' column in the header {header}")
    payloads, types = [], []
    for line, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise DataError(
                f"{path}: row {line} has {len(row)} fields; the header has {len(header)}"
            )
        if len(row[at]) > MAX_PAYLOAD:
            raise DataError(
                f"{path}: row {line}, column 'payload': {len(row[at])} characters; "
                f"at most {MAX_PAYLOAD} are read"
            )
        payloads.append(row[at])
        if kind is not None:
            label = row[kind].strip()
            if not label:
                raise DataError(
                    f"{path}: row {line}, column 'attack_type': empty; expected "
                    "'norm' or an attack type"
                )
            types.append("normal" if label in NORMAL_LABELS else label)
    return PayloadTable(tuple(payloads), tuple(types) if kind is not None else None, str(path))
