"""EDGE: Zeek conn.log, in Zeek's ASCII (TSV) form or its JSON-lines form, as a typed frame.

Columns: :data:`CONN_FIELDS` in order (all missing where the log lacks one), then extra
fields in file order, typed per ``#types`` (JSON: :data:`CONN_TYPES`; extras as written):
time/interval/double -> float64 s (time: since the Unix epoch, UTC); count/port/int ->
Int64; bool -> boolean; addr/subnet -> str checked by ``ipaddress``; string/enum -> str
(``\\xNN`` escapes decoded); set[T]/vector[T] -> tuple, ``(empty)`` -> (). Unset (``-``,
an absent JSON key) is NaN or <NA>. Problems raise DataError naming file, line, field,
value and expectation.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import MISSING_VALUE, RowProblem

CONN_FIELDS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "service",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "conn_state",
    "local_orig",
    "local_resp",
    "missed_bytes",
    "history",
    "orig_pkts",
    "orig_ip_bytes",
    "resp_pkts",
    "resp_ip_bytes",
    "tunnel_parents",
    "ip_proto",
)
CONN_TYPES = dict(
    zip(
        CONN_FIELDS,
        (
            "time",
            "string",
            "addr",
            "port",
            "addr",
            "port",
            "enum",
            "string",
            "interval",
            "count",
            "count",
            "string",
            "bool",
            "bool",
            "count",
            "string",
            "count",
            "count",
            "count",
            "count",
            "set[string]",
            "count",
        ),
    )
)
#: fields every connection record must have and hold a value in
REQUIRED = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto")
NO_FIELDS = (
    "{file}: line {line}: expected a '#fields' header line before the first record, found none"
)
FIELD_COUNT = "{file}: line {line}: expected {expected} fields separated by {sep!r} (as in #fields), found {found}"
TYPES_COUNT = "{file}: line {line}: expected #types to give a type for each of the {expected} #fields, found {found}"
MISSING_FIELDS = "{file}: expected the conn.log fields {expected}, missing {missing}"
BAD_SEPARATOR = (
    "{file}: line {line}: expected '#separator' to name a separator such as \\x09, found none"
)
BAD_JSON = "{file}: line {line}: expected one JSON object per line, found {found}"
EXPECTED = {
    "count": "a count (a whole number >= 0)",
    "port": "a port (a whole number 0-65535)",
    "int": "a whole number",
    "time": "a time in seconds since the epoch (or ISO 8601)",
    "interval": "an interval in seconds",
    "double": "a finite number",
    "bool": "T or F",
    "addr": "an IPv4 or IPv6 address",
    "subnet": "an IPv4 or IPv6 subnet",
}
#: characters beyond which a field cannot be a number of any Zeek type
LONGEST_NUMBER = 64
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_MASKED = re.compile(r"X+\.X+")
#: a run of spaces separating the last columns of some labelled logs (IoT-23), in
#: ``#fields``, ``#types`` and every record
_SPACED = re.compile(r" {2,}")
_SPACED_TAIL = re.compile(r" {2,}(?=[^\t]*$)")
_ESCAPE = re.compile(rb"\\x([0-9a-fA-F]{2})")
_NULLABLE = {"count": "Int64", "port": "Int64", "int": "Int64", "bool": "boolean"}
_REAL = ("time", "interval", "double")
_addr = lru_cache(maxsize=1 << 16)(lambda text: str(ipaddress.ip_address(text)))


def read_conn_log(path: str | Path, *, masked_timestamps: bool = False) -> pd.DataFrame:
    """The records of a conn.log (TSV or JSON lines, told by a leading ``{``).

    ``masked_timestamps`` accepts btest's masked times (``XXXXXXXXXX.XXXXXX``) as NaN."""
    file = str(path)
    with open(path, encoding="utf-8-sig", errors="backslashreplace", newline="") as fh:
        lines = [(n, line.rstrip("\r\n")) for n, line in enumerate(fh, 1)]
    first = next((text.lstrip() for _, text in lines if text.strip()), "")
    reader = _json_columns if first.startswith("{") else _tsv_columns
    return conn_frame(*reader(lines, file, masked_timestamps), file)


def conn_frame(columns: dict[str, object], n: int, file: str) -> pd.DataFrame:
    """A frame of ``n`` rows: conn fields in :data:`CONN_FIELDS` order (absent ones all
    missing), then the other ``columns``. DataError if a :data:`REQUIRED` field is absent."""
    missing = [f for f in REQUIRED if f not in columns]
    if missing and n:
        raise DataError(MISSING_FIELDS.format(file=file, expected=list(REQUIRED), missing=missing))
    out = {f: columns[f] if f in columns else _unset(n, CONN_TYPES[f]) for f in CONN_FIELDS}
    out.update((f, v) for f, v in columns.items() if f not in out)
    return pd.DataFrame(out, index=pd.RangeIndex(n))


def typed_column(
    cells: list,
    ztype: str,
    *,
    field: str,
    file: str,
    lines: list[int],
    masked: bool = False,
    required: bool = False,
):
    """One column typed as Zeek type ``ztype``. ``cells``: per row None (unset), a str or a
    tuple of str (container); ``lines``: line numbers. DataError at the first bad field."""
    inner = ztype[ztype.index("[") + 1 : -1] if ztype.endswith("]") and "[" in ztype else None
    if inner is None and not (required and None in cells):
        bulk = _bulk(cells, ztype, masked)
        if bulk is not None:
            return bulk
    parse, values = _parser(inner or ztype, masked), []
    for i, cell in enumerate(cells):
        if cell is None and required:
            raise DataError(RowProblem(file, lines[i], field, "", MISSING_VALUE).message())
        try:
            if cell is not None and isinstance(cell, tuple) != (inner is not None):
                raise ValueError(cell)
            values.append(
                None if cell is None else tuple(map(parse, cell)) if inner else parse(cell)
            )
        except (ValueError, KeyError):
            shown = ",".join(cell) if isinstance(cell, tuple) else str(cell)
            what = EXPECTED.get(inner or ztype, f"a {inner or ztype}")
            raise DataError(
                RowProblem(
                    file, lines[i], field, shown, f"a list of {what}" if inner else what
                ).message()
            ) from None
    return _array(values, "set" if inner else ztype)


def _bulk(cells: list, ztype: str, masked: bool):
    """Scalar ``cells`` converted in one numpy pass, or None: then the per-field path runs."""
    try:
        if not {type(c) for c in cells} <= {str, type(None)}:
            return None
        if ztype not in EXPECTED:  # any text is a valid string
            return _array(cells, ztype)
        if max(map(len, filter(None, cells)), default=0) > LONGEST_NUMBER:
            return None  # numpy would widen every cell to the longest one
        unset = np.equal(objects := np.array(cells, dtype=object), None)
        text = np.where(unset, "0", objects).astype(str)
        if ztype in ("count", "port") and np.char.isdigit(text).all():
            numbers = text.astype(np.int64)  # ValueError beyond int64
            if ztype == "count" or numbers.max(initial=0) < 65536:
                return pd.arrays.IntegerArray(numbers, unset)
        if ztype in _REAL and not (masked and ztype == "time"):
            numbers = np.where(unset, np.nan, text.astype(np.float64))
            return numbers if np.isfinite(numbers[~unset]).all() else None
    except (ValueError, OverflowError):
        pass
    return None


def _array(values: list, ztype: str):
    """Values (None = missing) as the column array for ``ztype``."""
    if ztype in _NULLABLE:
        return pd.array(values, dtype=_NULLABLE[ztype])
    filled = [np.nan if v is None else v for v in values]
    return (
        np.array(filled, np.float64) if ztype in _REAL else np.array(filled + [None], object)[:-1]
    )


def _unset(n: int, ztype: str):
    """A column of ``n`` unset values, as :func:`_array` makes it from ``[None] * n``."""
    if ztype in _NULLABLE:
        data = np.zeros(n, bool if ztype == "bool" else np.int64)
        kind = pd.arrays.BooleanArray if ztype == "bool" else pd.arrays.IntegerArray
        return kind(data, np.ones(n, bool))
    return np.full(n, np.nan) if ztype in _REAL else np.full(n, np.nan, dtype=object)


def _parser(ztype: str, masked: bool):
    """A function text -> value for scalar ``ztype``, raising ValueError on a bad text."""
    if ztype == "time":
        return lambda t: math.nan if masked and _MASKED.fullmatch(t) else _real(t, iso=True)
    return {
        "count": _count,
        "port": lambda t: _count(t, 65535),
        "interval": _real,
        "int": lambda t: -_count(t[1:]) if t[:1] == "-" else _count(t.removeprefix("+")),
        "double": _real,
        "bool": {"T": True, "F": False}.__getitem__,
        "addr": _addr,
        "subnet": lambda t: str(ipaddress.ip_network(t, strict=False)),
    }.get(ztype, str)


def _count(text: str, most: int = 2**63 - 1) -> int:
    if text.isascii() and text.isdigit() and int(text) <= most:
        return int(text)
    raise ValueError(text)


def _real(text: str, iso: bool = False) -> float:
    """A number, or with ``iso`` an ISO 8601 time as seconds since the epoch (naive = UTC)."""
    if _NUMBER.fullmatch(text):
        return float(text)
    if not iso:
        raise ValueError(text)
    moment = datetime.fromisoformat(text)  # Zeek's JSON writer may use ISO 8601 times
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def _unescape(text: str) -> str:
    """Decode Zeek's ``\\xNN`` escapes (bytes of UTF-8 text)."""
    raw = (
        _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), text.encode("utf-8"))
        if "\\x" in text
        else None
    )
    return text if raw is None else raw.decode("utf-8", "backslashreplace")


def new_header() -> dict:
    """The header state of an ASCII log before its first ``#`` line (Zeek's defaults)."""
    return {
        "separator": "\t",
        "set_separator": ",",
        "empty_field": "(empty)",
        "unset_field": "-",
        "fields": None,
        "types": None,
    }


def _tsv_columns(lines: list[tuple[int, str]], file: str, masked: bool):
    """Typed columns and row count of an ASCII log; header lines read as Zeek writes them."""
    meta = new_header()
    rows, numbers = [], []
    for n, line in lines:
        if line.startswith("#"):
            _header_line(line, n, meta, file)
        elif line:
            if meta["fields"] is None:
                raise DataError(NO_FIELDS.format(file=file, line=n))
            if meta.get("spaced_tail"):
                line = _SPACED_TAIL.sub(meta["separator"], line)
            rows.append(line.split(meta["separator"]))
            numbers.append(n)
            if len(rows[-1]) != len(meta["fields"][1]):
                raise DataError(
                    FIELD_COUNT.format(
                        file=file,
                        line=n,
                        expected=len(meta["fields"][1]),
                        sep=meta["separator"],
                        found=len(rows[-1]),
                    )
                )
    if meta["fields"] is None:
        raise DataError(NO_FIELDS.format(file=file, line=len(lines) + 1))
    fields = meta["fields"][1]
    line, kinds = meta["types"] or (0, [CONN_TYPES.get(f, "string") for f in fields])
    if len(kinds) != len(fields):
        raise DataError(
            TYPES_COUNT.format(file=file, line=line, expected=len(fields), found=len(kinds))
        )
    texts = list(zip(*rows)) if rows else [()] * len(fields)
    return {
        field: typed_column(
            _tsv_cells(column, ztype, meta),
            ztype,
            field=field,
            file=file,
            lines=numbers,
            masked=masked,
            required=field in REQUIRED,
        )
        for field, ztype, column in zip(fields, kinds, texts)
    }, len(rows)


def _header_line(line: str, n: int, meta: dict, file: str) -> None:
    """Fold one ``#`` line into ``meta``; others (``#open``, a btest banner) are ignored."""
    key, _, value = line[1:].partition(meta["separator"])
    if line.startswith("#separator"):
        meta["separator"] = _unescape(line[len("#separator") :].strip())
        if not meta["separator"]:
            raise DataError(BAD_SEPARATOR.format(file=file, line=n))
    elif key in ("fields", "types"):
        parts = value.split(meta["separator"])
        if parts and _SPACED.search(parts[-1]):  # labelled logs: last columns space-separated
            parts[-1:] = _SPACED.split(parts[-1])
            meta["spaced_tail"] = True
        meta[key] = (n, parts)
    elif key in ("set_separator", "empty_field", "unset_field"):
        meta[key] = _unescape(value)


def _tsv_cells(texts: tuple, ztype: str, meta: dict) -> list:
    """Per field None for unset, a tuple of element texts for containers, else decoded text."""
    unset, empty, between = meta["unset_field"], meta["empty_field"], meta["set_separator"]
    if ztype.endswith("]"):
        return [
            None if t == unset else () if t == empty else tuple(map(_unescape, t.split(between)))
            for t in texts
        ]
    if ztype in EXPECTED:  # numbers, booleans, addresses: no escapes to decode
        return [None if t == unset else t for t in texts]
    return [
        None if t == unset else "" if t == empty else _unescape(t) if "\\x" in t else t
        for t in texts
    ]


def _json_columns(lines: list[tuple[int, str]], file: str, masked: bool):
    """Typed columns and row count of a JSON-lines log (one object per line)."""
    records, numbers = [], []
    for n, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                BAD_JSON.format(
                    file=file, line=n, found=f"invalid JSON ({exc.msg}, column {exc.colno})"
                )
            ) from None
        if not isinstance(record, dict):
            raise DataError(BAD_JSON.format(file=file, line=n, found=type(record).__name__))
        records.append(record)
        numbers.append(n)
    names = dict.fromkeys(k for record in records for k in record)
    raw = {name: [record.get(name) for record in records] for name in names}
    return {
        name: typed_column(
            [_json_cell(v) for v in values],
            CONN_TYPES[name],
            field=name,
            file=file,
            lines=numbers,
            masked=masked,
            required=name in REQUIRED,
        )
        if name in CONN_TYPES
        # an extra field keeps its JSON values, arrays as tuples
        else _array([tuple(v) if isinstance(v, list) else v for v in values], "string")
        for name, values in raw.items()
    }, len(records)


def _json_cell(value):
    """A JSON value as the cell :func:`typed_column` reads (None, str or tuple of str)."""
    if isinstance(value, list):
        return tuple(_json_cell(v) or "" for v in value)
    if value is None or isinstance(value, bool):
        return None if value is None else "T" if value else "F"
    return json.dumps(value) if isinstance(value, dict) else str(value)
