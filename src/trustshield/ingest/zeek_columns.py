"""EDGE: the few conn.log fields behaviour detection needs, read column-wise in bulk.

:func:`read_conn_columns` reads a Zeek TSV conn.log (tab separated, ``#fields`` header)
with pyarrow's multi-threaded CSV reader, only the fields asked for, text fields as
pandas categoricals (one copy of each distinct address or state), counts as float64
(unset: NaN). Anything it cannot read that way — JSON lines, a CSV conversion, the
space-separated labelled variant, a bad record — goes to
:func:`~trustshield.ingest.zeek_chunks.read_conn_table`, whose strict reader names file,
line, field and expectation; so the result is the same frame, only lighter.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from trustshield.errors import DataError

#: what behaviour detection reads (addresses, port, protocol, state, sizes, times, uid)
BEHAVIOUR_FIELDS = (
    "ts",
    "uid",
    "id.orig_h",
    "id.resp_h",
    "id.resp_p",
    "proto",
    "conn_state",
    "duration",
    "orig_bytes",
    "resp_bytes",
    "orig_pkts",
    "resp_pkts",
)
_NUMBERS = {
    "ts": "float64",
    "duration": "float64",
    "id.resp_p": "float64",
    "orig_bytes": "float64",
    "resp_bytes": "float64",
    "orig_pkts": "float64",
    "resp_pkts": "float64",
}
_LABELS = ("label", "detailed-label")


def _header(path: Path) -> tuple[list[str], int, bytes]:
    """The ``#fields`` names, the number of leading ``#`` lines and the unset marker."""
    names: list[str] = []
    unset = b"-"
    n = 0
    with path.open("rb") as handle:
        for line in handle:
            if not line.startswith(b"#"):
                break
            n += 1
            if line.startswith(b"#fields"):
                names = line.rstrip(b"\r\n").decode("utf-8").split("\t")[1:]
            elif line.startswith(b"#unset_field"):
                unset = line.rstrip(b"\r\n").split(b"\t", 1)[-1]
    return names, n, unset


def _conversion(names: list[str], fields: tuple[str, ...], unset: str):
    """How pyarrow converts the wanted columns of a ``#fields`` header ``names``: the
    ``fields`` present plus the label columns, numbers as float64, uid as a string, other
    text as a dictionary; ``unset`` is null. None when the header is not a plain columnar
    conn.log (no names, space-separated names, or no ``ts``)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    wanted = [f for f in (*fields, *_LABELS) if f in names]
    if not names or any("  " in n for n in names) or "ts" not in wanted:
        return None
    types = {
        f: pa.float64()
        if f in _NUMBERS
        else pa.string()
        if f == "uid"
        else pa.dictionary(pa.int32(), pa.string())
        for f in wanted
    }
    return pcsv.ConvertOptions(
        column_types=types,
        include_columns=wanted,
        null_values=[unset],
        strings_can_be_null=True,
    )


def read_conn_columns(path: str | Path, fields: tuple[str, ...] = BEHAVIOUR_FIELDS) -> pd.DataFrame:
    """The ``fields`` (those present) of the conn.log at ``path``, plus the label columns
    when the log has them, one row per record in file order: text as categoricals, numbers
    as float64 with NaN for unset. Falls back to ``read_conn_table`` (and its errors)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from trustshield.ingest.zeek_chunks import read_conn_table

    file = Path(path)
    names, skip, unset = _header(file)
    conversion = _conversion(names, fields, unset.decode("utf-8"))
    if conversion is None:
        return _slim(read_conn_table(file), fields)
    try:
        table = pcsv.read_csv(
            file,
            read_options=pcsv.ReadOptions(
                column_names=names, skip_rows=skip, block_size=1 << 24, use_threads=True
            ),
            parse_options=pcsv.ParseOptions(
                delimiter="\t", quote_char=False, escape_char=False, invalid_row_handler=None
            ),
            convert_options=conversion,
        )
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        # a trailing #close line or a bad record: the strict reader decides
        return _slim(read_conn_table(file), fields)
    if table.column("ts").null_count:
        return _slim(read_conn_table(file), fields)
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    if frame.empty:
        raise DataError(f"{file}: no conn records after the header")
    return frame


def conn_block(
    data: bytes, names: list[str], fields: tuple[str, ...] = BEHAVIOUR_FIELDS, unset: str = "-"
) -> pd.DataFrame | None:
    """The records of ``data`` (complete tab-separated record lines of a conn.log whose
    ``#fields`` are ``names``; no ``#`` line) typed as :func:`read_conn_columns` types
    them; None when a record does not parse that way (the strict reader decides)."""
    table = conn_block_arrow(data, names, fields, unset)
    return None if table is None else table.to_pandas(split_blocks=True, self_destruct=True)


def conn_block_arrow(
    data: bytes, names: list[str], fields: tuple[str, ...] = BEHAVIOUR_FIELDS, unset: str = "-"
):
    """:func:`conn_block`'s records as the Arrow table it converts (text as dictionaries,
    uid as strings, numbers as float64); None as there."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pcsv

    conversion = _conversion(names, fields, unset)
    if conversion is None:
        return None
    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=True),
            parse_options=pcsv.ParseOptions(delimiter="\t", quote_char=False, escape_char=False),
            convert_options=conversion,
        )
    except (pa.ArrowException, UnicodeDecodeError, ValueError):
        return None
    if table.column("ts").null_count or table.num_rows != data.count(b"\n"):
        return None
    return table


class NotColumnar(DataError):
    """The log is not a plain Zeek TSV conn.log the columnar reader can stream."""


def iter_conn_columns(
    path: str | Path, fields: tuple[str, ...] = BEHAVIOUR_FIELDS, *, block_bytes: int = 1 << 24
) -> Iterator[pd.DataFrame]:
    """The ``fields`` (those present, plus label columns) of a Zeek TSV conn.log, as frames
    of about ``block_bytes`` of the file each, in file order, typed as
    :func:`read_conn_columns` types them (text as categoricals, each frame its own
    categories). Comment lines (``#close``) are skipped. :class:`NotColumnar` (before the
    first frame, or at the frame where a record does not parse or lacks ``ts``) when the
    log needs the strict reader (``read_conn_table``) instead."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    file = Path(path)
    names, skip, unset = _header(file)
    conversion = _conversion(names, fields, unset.decode("utf-8"))
    if conversion is None:
        raise NotColumnar(f"{file}: not a tab-separated Zeek conn.log with a #fields header")

    def comment(row) -> str:
        return "skip" if (row.text or "").startswith("#") else "error"

    try:
        reader = pcsv.open_csv(
            file,
            read_options=pcsv.ReadOptions(
                column_names=names, skip_rows=skip, block_size=block_bytes, use_threads=True
            ),
            parse_options=pcsv.ParseOptions(
                delimiter="\t", quote_char=False, escape_char=False, invalid_row_handler=comment
            ),
            convert_options=conversion,
        )
        for batch in reader:
            if batch.column(batch.schema.get_field_index("ts")).null_count:
                raise NotColumnar(f"{file}: a record without ts")
            yield pa.Table.from_batches([batch]).to_pandas(
                split_blocks=True, self_destruct=True, types_mapper=_arrow_strings
            )
    except (pa.ArrowException, UnicodeDecodeError, ValueError) as exc:
        raise NotColumnar(f"{file}: {exc}") from None


def _arrow_strings(dtype):
    """uids stay Arrow strings in pandas (no Python object per record)."""
    import pyarrow as pa

    return pd.StringDtype("pyarrow") if dtype == pa.string() else None


def _slim(frame: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    keep = [f for f in (*fields, *_LABELS) if f in frame.columns]
    return frame[keep]
