"""EDGE: Zeek conn.log read in chunks of complete lines, for following a growing log.

:func:`conn_chunk` types the records of an ASCII (TSV) chunk as
:func:`~trustshield.ingest.zeek.read_conn_log` does, keeping the header state between
chunks of one file; a chunk of well-formed records goes through one C-parser pass
(pyarrow), and one that fails a bulk check is read record by record with the strict
per-field checks, so errors name the same file, line, field and expectation.
:func:`json_chunk` reads a chunk of the JSON-lines form.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import MISSING_VALUE, RowProblem
from trustshield.ingest.zeek import (
    CONN_TYPES,
    EXPECTED,
    FIELD_COUNT,
    NO_FIELDS,
    REQUIRED,
    TYPES_COUNT,
    _NUMBER,
    _REAL,
    _addr,
    _header_line,
    _json_columns,
    _tsv_cells,
    conn_frame,
    new_header as new_header,  # re-exported: the chunk readers' callers start from it
    typed_column,
)


def conn_chunk(
    data: bytes,
    header: dict,
    *,
    file: str,
    first_line: int,
    fields: tuple[str, ...] | None = None,
    skip_bad: bool = False,
    masked_timestamps: bool = False,
) -> tuple[pd.DataFrame, np.ndarray, list[RowProblem]]:
    """The records among ``data`` (complete lines of an ASCII conn.log, the first numbered
    ``first_line``) as :func:`conn_frame` types them, with the line number of each row (int64)
    and the rejected fields. ``header`` is updated by the ``#`` lines met (pass the same dict
    for every chunk of a file). Only ``fields`` (default: all of ``#fields``) are typed and
    checked. Fast path: one C-parser pass over the chunk; a chunk that fails a bulk check is
    read record by record with :func:`typed_column`, raising DataError at the first bad field,
    or with ``skip_bad`` dropping its rows and returning a RowProblem per bad field."""
    if (
        header["fields"] is not None
        and data.endswith(b"\n")
        and not data.startswith(b"#")
        and b"\n#" not in data
        and b"\n\n" not in data
        and b"\r" not in data
    ):
        if header.get("spaced_tail"):
            data = _SPACED_TAIL.sub(header["separator"].encode(), data)
        n = data.count(b"\n")  # records only: typed straight from the bytes when they pass
        part = _fast_part(data, n, header, fields, masked_timestamps)
        if part is not None:
            return (
                conn_frame(part, n, file),
                np.arange(first_line, first_line + n, dtype=np.int64),
                [],
            )
    text = data.decode("utf-8", "backslashreplace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    frames, numbers, problems, records, start = [], [], [], [], first_line

    def flush(records: list[str], start: int) -> None:
        """Type one run of records (first numbered ``start``) into frames/numbers/problems."""
        _chunk_part(
            records,
            start,
            header,
            file,
            fields,
            skip_bad,
            masked_timestamps,
            frames,
            numbers,
            problems,
        )

    for n, line in enumerate(lines, first_line):
        line = line.rstrip("\r")
        if line.startswith("#") or not line:
            if records:
                flush(records, start)
                records = []
            if line:
                _header_line(line, n, header, file)
            start = n + 1
        else:
            records.append(line)
    if records:
        flush(records, start)
    if not frames:
        return conn_frame({}, 0, file), np.zeros(0, np.int64), problems
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return frame, np.concatenate(numbers), problems


def json_chunk(data: bytes, *, file: str, first_line: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The records among ``data`` (complete lines of a JSON-lines conn.log, the first numbered
    ``first_line``) and their line numbers; the strict reader (DataError at a bad line)."""
    text = data.decode("utf-8", "backslashreplace").split("\n")
    numbered = [
        (n, t.rstrip("\r"))
        for n, t in enumerate(text[:-1] if text[-1:] == [""] else text, first_line)
    ]
    columns, n = _json_columns(numbered, file, False)
    return conn_frame(columns, n, file), np.array([k for k, t in numbered if t.strip()], np.int64)


def _chunk_part(
    records: list[str],
    start: int,
    header: dict,
    file: str,
    wanted,
    skip_bad: bool,
    masked: bool,
    frames: list,
    numbers: list,
    problems: list,
) -> None:
    """Type consecutive record lines (numbered from ``start``) into ``frames``/``numbers``."""
    if header["fields"] is None:
        raise DataError(NO_FIELDS.format(file=file, line=start))
    names = header["fields"][1]
    kinds = header["types"][1] if header["types"] else [CONN_TYPES.get(f, "string") for f in names]
    if len(kinds) != len(names):
        raise DataError(
            TYPES_COUNT.format(
                file=file, line=header["types"][0], expected=len(names), found=len(kinds)
            )
        )
    if header.get("spaced_tail"):
        records = [_SPACED_TEXT.sub(header["separator"], r) for r in records]
    lines = np.arange(start, start + len(records), dtype=np.int64)
    keep = [i for i, f in enumerate(names) if wanted is None or f in wanted]
    columns = _fast_part(
        ("\n".join(records) + "\n").encode("utf-8"), len(records), header, wanted, masked
    )
    if columns is None:
        columns, lines = _strict_columns(
            records, lines, header, names, kinds, keep, file, skip_bad, masked, problems
        )
    frames.append(conn_frame(columns, len(lines), file))
    numbers.append(lines)


def _fast_part(payload: bytes, n: int, header: dict, wanted, masked: bool):
    """Typed columns of ``n`` well-formed record lines (``payload``, UTF-8, each ending in
    ``\\n``) in one C-parser pass (pyarrow), or None when a bulk check fails (then the strict
    path finds and names the bad field)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    sep, names = header["separator"], header["fields"][1]
    kinds = header["types"][1] if header["types"] else [CONN_TYPES.get(f, "string") for f in names]
    keep = [i for i, f in enumerate(names) if wanted is None or f in wanted]
    if (
        len(sep) != 1
        or len(kinds) != len(names)
        or payload.count(sep.encode()) != n * (len(names) - 1)
    ):
        return None
    try:
        table = pcsv.read_csv(
            pa.py_buffer(payload),
            read_options=pcsv.ReadOptions(
                column_names=[str(i) for i in range(len(names))],
                use_threads=False,
                block_size=1 << 26,
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=sep, quote_char=False, escape_char=False, newlines_in_values=False
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={str(i): pa.string() for i in keep},
                include_columns=[str(i) for i in keep],
                strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, ValueError):
        return None
    if table.num_rows != n:
        return None
    out = {}
    for i in keep:
        column = _fast_column(
            table.column(str(i)).combine_chunks(), kinds[i], header, masked, names[i] in REQUIRED
        )
        if column is None:
            return None
        out[names[i]] = column
    return out


_FAST_PATTERNS = {
    "count": r"\d+",
    "port": r"\d+",
    "int": r"[-+]?\d+",
    "time": _NUMBER.pattern,
    "interval": _NUMBER.pattern,
    "double": _NUMBER.pattern,
    "bool": "[TF]",
}
_IPV4 = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}"


def _fast_column(texts, ztype: str, header: dict, masked: bool, required: bool):
    """One pyarrow string column typed as :func:`typed_column` types it, or None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    unset = pc.equal(texts, header["unset_field"]).to_numpy(zero_copy_only=False)
    if ztype.endswith("]") or (required and unset.any()) or (masked and ztype == "time"):
        return None
    if ztype in _FAST_PATTERNS:
        if not pc.all(
            pc.or_(
                pc.match_substring_regex(texts, "^(" + _FAST_PATTERNS[ztype] + ")$"),
                pc.equal(texts, header["unset_field"]),
            )
        ).as_py():
            return None
        if ztype == "bool":
            return pd.arrays.BooleanArray(
                pc.equal(texts, "T").to_numpy(zero_copy_only=False), unset
            )
        filled = pc.if_else(pc.equal(texts, header["unset_field"]), "0", texts)
        if ztype in _REAL:
            numbers = pc.cast(filled, "float64").to_numpy(zero_copy_only=False).copy()
            numbers[unset] = np.nan
            return numbers if np.isfinite(numbers[~unset]).all() else None
        try:
            numbers = pc.cast(filled, "int64").to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # beyond int64: the strict path names the field
            return None
        if ztype == "port" and numbers.max(initial=0) > 65535:
            return None
        return pd.arrays.IntegerArray(numbers.copy(), unset)
    if pc.any(pc.match_substring(texts, "\\x")).as_py():
        return None  # escapes: decoded by the strict path
    values = texts.to_numpy(zero_copy_only=False).astype(object)
    if ztype in ("addr", "subnet"):
        if ztype == "subnet":
            return None
        odd = np.flatnonzero(
            ~unset
            & ~pc.match_substring_regex(texts, "^" + _IPV4 + "$").to_numpy(zero_copy_only=False)
        )
        try:
            values[odd] = [_addr(values[j]) for j in odd]
        except ValueError:
            return None
    elif ztype not in EXPECTED:
        values[values == header["empty_field"]] = ""
    else:
        return None
    values[unset] = None
    return values


def _strict_columns(records, lines, header, names, kinds, keep, file, skip_bad, masked, problems):
    """Record-by-record typing; bad rows raise, or with ``skip_bad`` are dropped and listed."""
    sep, rows, kept = header["separator"], [], []
    for text, n in zip(records, lines):
        row = text.split(sep)
        if len(row) != len(names):
            message = FIELD_COUNT.format(
                file=file, line=n, expected=len(names), sep=sep, found=len(row)
            )
            if not skip_bad:
                raise DataError(message)
            problems.append(
                RowProblem(
                    file,
                    int(n),
                    "#fields",
                    f"{len(row)} fields",
                    f"{len(names)} fields separated by {sep!r}",
                )
            )
            continue
        if skip_bad:
            bad = _row_problems(row, n, header, names, kinds, keep, file, masked)
            if bad:
                problems.extend(bad)
                continue
        rows.append(row)
        kept.append(n)
    texts = list(zip(*rows)) if rows else [()] * len(names)
    kept = np.asarray(kept, np.int64)
    return {
        names[i]: typed_column(
            _tsv_cells(texts[i], kinds[i], header),
            kinds[i],
            field=names[i],
            file=file,
            lines=kept,
            masked=masked,
            required=names[i] in REQUIRED,
        )
        for i in keep
    }, kept


def _row_problems(row, n, header, names, kinds, keep, file, masked) -> list[RowProblem]:
    """The RowProblem of every bad wanted field of one split record."""
    out = []
    for i in keep:
        try:
            typed_column(
                _tsv_cells((row[i],), kinds[i], header),
                kinds[i],
                field=names[i],
                file=file,
                lines=[int(n)],
                masked=masked,
                required=names[i] in REQUIRED,
            )
        except DataError:
            what = EXPECTED.get(kinds[i], f"a {kinds[i]}")
            expected = MISSING_VALUE if row[i] == header["unset_field"] else what
            out.append(RowProblem(file, int(n), names[i], row[i], expected))
    return out


#: ground-truth columns of labelled conn logs (IoT-23 and its CSV conversions): read and
#: kept, never features
LABEL_FIELDS = ("label", "detailed-label")
#: a run of spaces that separates the last columns of some labelled conn logs (IoT-23)
_SPACED_TAIL = re.compile(rb" {2,}(?=[^\t\n]*$)", re.MULTILINE)
_SPACED_TEXT = re.compile(r" {2,}(?=[^\t]*$)")
#: conn fields typed by :func:`read_conn_table` (containers such as tunnel_parents are
#: left out: they would send every chunk down the per-record path)
TABLE_FIELDS = tuple(f for f in CONN_TYPES if not CONN_TYPES[f].endswith("]")) + LABEL_FIELDS


def read_conn_table(path: str | Path) -> pd.DataFrame:
    """Every record of a conn.log at ``path`` as :func:`conn_frame` types it, read in bulk:
    Zeek TSV (also the labelled variant whose last columns are separated by runs of
    spaces, in ``#fields``, ``#types`` and every record), Zeek JSON lines, or a CSV
    conversion (a header line of conn field names, ``-`` for unset). The columns
    :data:`LABEL_FIELDS`, when present, are kept as text (ground truth, never features).
    TSV records go through one C-parser pass; a file that fails a bulk check is read
    record by record, so a DataError names file, line, field and expectation."""
    file = str(path)
    data = Path(path).read_bytes()
    head = data.lstrip()[:1]
    if head == b"{":
        fast = _json_table(data, file)
        return fast if fast is not None else json_chunk(data, file=file, first_line=1)[0]
    if head != b"#":
        return _csv_table(data, file)
    fields_line = next((ln for ln in data[:65536].split(b"\n") if ln.startswith(b"#fields")), b"")
    if b"  " in fields_line:
        data = _SPACED_TAIL.sub(b"\t", data)
    header, pos, n_head = new_header(), 0, 0
    while data.startswith(b"#", pos):  # the leading header lines
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line = data[pos:end].decode("utf-8", "backslashreplace").rstrip("\r")
        _header_line(line, n_head + 1, header, file)
        pos, n_head = end + 1, n_head + 1
    body = data[pos:]
    while (cut := body.rstrip(b"\n").rfind(b"\n#")) >= 0 and b"\n" not in body[cut + 1 :].rstrip(
        b"\n"
    ):
        body = body[: cut + 1]  # a trailing #close line
    if body and not body.endswith(b"\n"):
        body += b"\n"
    names = header["fields"][1] if header["fields"] else ()
    wanted = tuple(f for f in names if f in TABLE_FIELDS)
    frame, _, _ = conn_chunk(body, header, file=file, first_line=n_head + 1, fields=wanted)
    return frame


def _json_table(data: bytes, file: str) -> pd.DataFrame | None:
    """JSON lines typed in one C-parser pass (pyarrow), or None when the file needs the
    strict reader (a bad line, a type it does not expect, ISO times): then json_chunk
    names the problem."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.json as pjson

    try:
        table = pjson.read_json(pa.py_buffer(data))
        names = table.column_names  # names that are not UTF-8 fail here
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    header = new_header()
    columns = {}
    for name in names:
        if name not in TABLE_FIELDS:
            continue
        column = table.column(name).combine_chunks()
        if pa.types.is_boolean(column.type):
            column = pc.if_else(column, "T", "F")
        elif not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            if not pa.types.is_string(column.type):
                return None
        try:
            texts = pc.fill_null(pc.cast(column, pa.string()), header["unset_field"])
            typed = _fast_column(
                texts, CONN_TYPES.get(name, "string"), header, False, name in REQUIRED
            )
        except (pa.ArrowException, UnicodeDecodeError, ValueError):
            return None
        if typed is None:
            return None
        columns[name] = typed
    return conn_frame(columns, table.num_rows, file)


def _csv_table(data: bytes, file: str) -> pd.DataFrame:
    """A CSV conversion of a conn.log (header of conn field names) typed as Zeek types it."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    first = data.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
    if twice := sorted({f for f in first if first.count(f) > 1}):
        raise DataError(
            f"{file}: line 1: expected a header of distinct conn.log field names, "
            f"found {twice[:5]} more than once"
        )
    try:
        table = pcsv.read_csv(
            pa.py_buffer(data),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in first},
                include_columns=[f for f in first if f in TABLE_FIELDS],
                strings_can_be_null=False,
            ),
            read_options=pcsv.ReadOptions(use_threads=False, block_size=1 << 26),
        )
        names = table.column_names  # names that are not UTF-8 fail here
    except (pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
        raise DataError(
            f"{file}: expected a Zeek conn.log (TSV or JSON lines) or a CSV conversion of "
            f"one (UTF-8 text): {exc}"
        ) from None
    if twice := sorted({f for f in names if names.count(f) > 1}):
        raise DataError(
            f"{file}: line 1: expected a header of distinct conn.log field names, "
            f"found {twice[:5]} more than once"
        )
    header = new_header()
    columns = {}
    for name in names:
        ztype = CONN_TYPES.get(name, "string")
        try:
            texts = pc.cast(table.column(name).combine_chunks(), pa.string())
            column = _fast_column(texts, ztype, header, False, name in REQUIRED)
        except (pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
            raise DataError(
                f"{file}: field {name}: expected UTF-8 text of a {ztype}: {exc}"
            ) from None
        if column is None:  # the strict path names the first bad field
            cells = [None if t == "-" else t for t in texts.to_pylist()]
            column = typed_column(
                cells,
                ztype,
                field=name,
                file=file,
                lines=list(range(2, len(cells) + 2)),
                required=name in REQUIRED,
            )
        columns[name] = column
    return conn_frame(columns, table.num_rows, file)
