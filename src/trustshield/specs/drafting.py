"""Draft a DatasetSpec from a table: a starting point for a person to review, never a verdict.

:func:`draft_spec` looks at the values of each column of a frame (as read from the file,
text preferred so decimals show as written) and proposes:

- a type: ``binary`` (only 0 and 1, both present), ``integer`` (whole numbers), ``rate``
  (numbers in [0, 1] with fractions), ``real`` (other numbers), ``categorical`` (text with
  at most :data:`MAX_CATEGORIES` distinct values), else a text ``metadata`` column;
- the observed range (``min``/``max``) of numeric columns and the decimals reals are
  written with, the sorted values of categorical columns;
- the label column (``label`` argument, else a column named like one in
  :data:`LABEL_NAMES`) and normal-label candidates (values named like
  :data:`NORMAL_NAMES`, else the most frequent value);
- ``attacker: review`` on every feature: what an attacker controls cannot be read off data;
  it loads as ``fixed`` until a person decides, and ``trustshield spec check`` lists it.

The draft says nothing about relations or the attack → category → ATT&CK map; its notes
(:attr:`Draft.notes`, written as YAML comments) list what a person has to fill in.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import yaml

from trustshield.errors import DataError
from trustshield.specs.dataset_spec import DEFAULT_MAX_TEXT, MAX_DECIMALS, REVIEW

#: most distinct text values a column may have to be drafted as categorical
MAX_CATEGORIES = 64
#: column names (lower case) taken for the label column when none is given
LABEL_NAMES = ("label", "labels", "class", "attack", "attack_cat", "category", "target")
#: label values (lower case) that name normal traffic
NORMAL_NAMES = ("normal", "benign", "background", "legitimate", "clean")
#: label values listed in the notes as attack names to map
SHOWN_LABELS = 30

_DECIMAL = re.compile(r"^[+-]?\d*\.(\d+)$")


@dataclass(frozen=True)
class Draft:
    """A drafted spec document (what a spec YAML file holds) and what a person must do."""

    document: dict[str, Any]
    notes: tuple[str, ...]

    def yaml_text(self) -> str:
        """The draft as YAML, its notes as comments at the top."""
        header = "".join(f"# {line}\n" for note in self.notes for line in _wrap(note))
        body = yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True, width=100)
        return header + str(body)


def draft_spec(
    frame: pd.DataFrame,
    *,
    name: str,
    label: str | None = None,
    normal: str | None = None,
    file_format: str = "csv",
    header: bool = True,
    metadata: tuple[str, ...] = (),
) -> Draft:
    """A draft spec for the records of ``frame`` (n rows, one column per field).

    ``label`` names the label column (DataError when it is not a column); without it, a
    column named like :data:`LABEL_NAMES` is taken when exactly one is. ``normal`` is the
    label value of normal records (DataError when the label column never holds it);
    without it, a value named like :data:`NORMAL_NAMES`, else the most frequent one.
    ``metadata`` names columns kept with each record but never used as features
    (identifiers, addresses, timestamps): drafted as free text with role ``metadata``.
    """
    if frame.empty or not len(frame.columns):
        raise DataError("cannot draft a spec from a table with no rows or no columns")
    names = [str(c) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise DataError(f"column(s) {twice} appear more than once; a spec names each once")
    notes: list[str] = []
    label = _label_column(names, label, notes)
    unknown = [m for m in metadata if m not in names]
    if unknown or label in metadata:
        raise DataError(
            f"--metadata {unknown or [label]}: "
            + ("not a column of the table" if unknown else "the label column cannot be metadata")
            + f"; columns: {names}"
        )
    columns = []
    given, normal = normal, None
    for column_name in names:
        values = frame[column_name]
        if column_name == label:
            column, normal = _label(values, column_name, notes, given)
        elif column_name in metadata:
            column = {"name": column_name, "type": "label", "role": "metadata"}
            longest = int(_texts(values).str.len().max()) if values.notna().any() else 1
            if longest > DEFAULT_MAX_TEXT:
                column["max_length"] = longest
        else:
            column = _feature(values, column_name, notes)
        columns.append(column)
    label_doc: dict[str, Any] = {}
    if label is not None:
        label_doc["column"] = label
        if normal is not None:
            label_doc["normal"] = normal
    notes.append(
        f"attacker: every feature says '{REVIEW}' (loaded as 'fixed'): set each to fixed, "
        "increase, decrease or any"
    )
    notes.append(
        "add relations between columns, and the attack -> category -> ATT&CK map under "
        "label.categories (technique optional); check with: trustshield spec check "
        "SPEC DATA"
    )
    document: dict[str, Any] = {
        "name": name,
        "description": f"drafted from {len(frame):,} records; review before use",
        "source": {"format": file_format, "header": header},
        "columns": columns,
    }
    if label_doc:
        document["label"] = label_doc
    return Draft(document, tuple(notes))


def _label_column(names: list[str], label: str | None, notes: list[str]) -> str | None:
    if label is not None:
        if label not in names:
            raise DataError(f"--label {label!r} is not a column of the table; columns: {names}")
        return label
    guesses = [n for n in names if n.strip().lower() in LABEL_NAMES]
    if len(guesses) == 1:
        notes.append(f"label column guessed from its name: {guesses[0]!r} (--label to choose)")
        return guesses[0]
    notes.append(
        "no label column chosen"
        + (f" (candidates: {guesses})" if guesses else "")
        + ": pass --label COLUMN, or add label.column by hand"
    )
    return None


def _label(
    values: pd.Series, name: str, notes: list[str], given: str | None = None
) -> tuple[dict[str, Any], str | None]:
    texts = _texts(values)
    counts = texts.value_counts()
    if counts.empty:
        raise DataError(f"label column {name!r} holds no values")
    normal_like = [v for v in counts.index if str(v).strip().lower() in NORMAL_NAMES]
    if given is not None:
        if given not in set(map(str, counts.index)):
            shown = ", ".join(repr(str(v)) for v in counts.index[:SHOWN_LABELS])
            raise DataError(f"--normal {given!r} never occurs in label column {name!r}: {shown}")
        normal, why = given, "given with --normal"
    else:
        normal = str(normal_like[0] if normal_like else counts.index[0])
        why = "named like normal traffic" if normal_like else "the most frequent value"
    notes.append(
        f"normal label {normal!r} ({why}); candidates by frequency: "
        + ", ".join(f"{v!r} ({n:,})" for v, n in counts.head(5).items())
    )
    others = [str(v) for v in counts.index if str(v) != normal]
    if others:
        shown = ", ".join(others[:SHOWN_LABELS]) + (" ..." if len(others) > SHOWN_LABELS else "")
        notes.append(f"{len(others)} other label value(s) to map to categories: {shown}")
    longest = int(texts.str.len().max())
    column: dict[str, Any] = {"name": name, "type": "label", "role": "label"}
    if longest > DEFAULT_MAX_TEXT:
        column["max_length"] = longest
    return column, normal


def _feature(values: pd.Series, name: str, notes: list[str]) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name}
    present = values.dropna()
    numbers = pd.to_numeric(present, errors="coerce") if len(present) else present
    if len(present) and not numbers.isna().any():
        column.update(_numeric(present, numbers.to_numpy(dtype=np.float64), name, notes))
        if _row_number(numbers.to_numpy(dtype=np.float64), len(values)):
            column["role"] = "metadata"
            notes.append(
                f"{name!r}: a different whole number on every row, in steps of one: drafted "
                "as metadata (a row number, not a feature)"
            )
            return column
    else:
        texts = _texts(values)
        distinct = sorted(texts.unique().tolist())
        if 0 < len(distinct) <= MAX_CATEGORIES:
            column.update(type="categorical", values=distinct)
        else:
            longest = int(texts.str.len().max()) if len(texts) else 1
            column.update(type="label", role="metadata")
            if longest > DEFAULT_MAX_TEXT:
                column["max_length"] = longest
            notes.append(
                f"{name!r}: {len(distinct):,} distinct text values, drafted as metadata "
                "(not a feature)"
            )
            return column
    if values.isna().any():
        notes.append(f"{name!r}: {int(values.isna().sum()):,} empty value(s) would be rejected")
    column["attacker"] = REVIEW
    return column


def _row_number(numbers: np.ndarray, rows: int) -> bool:
    """Every row holds a distinct whole number and together they are consecutive."""
    if len(numbers) != rows or rows < 3 or not np.all(numbers == np.round(numbers)):
        return False
    ordered = np.sort(numbers)
    return bool(np.all(np.diff(ordered) == 1))


def _numeric(
    present: pd.Series, numbers: np.ndarray, name: str, notes: list[str]
) -> dict[str, Any]:
    finite = numbers[np.isfinite(numbers)]
    if len(finite) < len(numbers):
        notes.append(f"{name!r}: holds infinite values, which a spec never accepts")
    if len(finite) == 0:
        return {"type": "real"}
    lo, hi = float(finite.min()), float(finite.max())
    whole = bool(np.all(finite == np.round(finite)))
    out: dict[str, Any]
    if whole and set(np.unique(finite)) == {0.0, 1.0}:
        return {"type": "binary"}
    if whole:
        out = {"type": "integer", "min": _plain(lo), "max": _plain(hi)}
    elif lo >= 0 and hi <= 1:
        out = {"type": "rate"}
    else:
        out = {"type": "real", "min": lo, "max": hi}
    if not whole:
        decimals = _decimals(present)
        if decimals is not None:
            out["decimals"] = decimals
    if lo == hi:
        notes.append(f"{name!r}: constant {_plain(lo)} in the draft data")
    return out


def _decimals(present: pd.Series) -> int | None:
    """Most decimals any value is written with (None: exponent notation or more than
    :data:`MAX_DECIMALS`)."""
    most = 0
    for value in pd.unique(present.astype(str).str.strip()):
        if "e" in value.lower():
            return None
        found = _DECIMAL.match(value)
        if found:
            most = max(most, len(found.group(1).rstrip("0")))
    return most if most <= MAX_DECIMALS else None


def _texts(values: pd.Series) -> pd.Series:
    return values.dropna().astype(str).str.strip()


def _plain(value: float) -> int | float:
    return int(value) if value == int(value) and math.isfinite(value) else value


def _wrap(note: str, width: int = 96) -> list[str]:
    words, lines, line = note.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines
