"""EDGE: write the alerts a query selects in one export format, chunk by chunk.

:data:`FORMATS`: ``jsonl`` (complete JSON objects, one per line), ``csv`` (a header and one
row per alert), ``ecs`` (Elastic Common Schema JSON lines, :mod:`.ecs`) and ``stix`` (one
STIX 2.1 bundle, :mod:`.stix`). :func:`export` writes UTF-8 to an open binary stream;
:func:`export_file` writes a file atomically (complete or not at all).
"""

from __future__ import annotations

import contextlib
import csv
import gc
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from trustshield.atomic_files import writing_atomic
from trustshield.errors import DataError
from trustshield.exports.ecs import ecs_document
from trustshield.exports.flat import CSV_COLUMNS, csv_row, json_record
from trustshield.exports.query import DEFAULT_CHUNK, AlertQuery, read_chunks

FORMATS = ("jsonl", "csv", "ecs", "stix")


def _lines(to_json: Callable[[Any], dict[str, Any]]):
    """A writer of one JSON object per line (orjson: UTF-8, no NaN, no spaces)."""
    import orjson

    def write(db, query: AlertQuery, out: IO[bytes], chunk: int) -> int:
        n = 0
        for alerts in read_chunks(db, query, chunk=chunk):
            out.write(b"\n".join([orjson.dumps(to_json(a)) for a in alerts]) + b"\n")
            n += len(alerts)
        return n

    return write


def _csv(db, query: AlertQuery, out: IO[bytes], chunk: int) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)  # type: ignore[arg-type]
    try:
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        n = 0
        for alerts in read_chunks(db, query, chunk=chunk):
            writer.writerows(csv_row(a) for a in alerts)
            n += len(alerts)
        text.flush()
    finally:
        text.detach()  # ``out`` stays open: its owner closes it
    return n


def _stix(db, query: AlertQuery, out: IO[bytes], chunk: int) -> int:
    from trustshield.exports.stix import BUNDLE_END, StixWriter, bundle_start

    stix = StixWriter()
    out.write(bundle_start().encode())
    first, n = True, 0
    for alerts in read_chunks(db, query, chunk=chunk):
        texts = [obj.serialize() for obj in stix.objects(alerts)]
        if texts:
            out.write((("" if first else ",\n") + ",\n".join(texts)).encode())
            first = False
        n += len(alerts)
    if first:  # no alerts: the Identity alone
        out.write(",\n".join(obj.serialize() for obj in stix.objects([])).encode())
    out.write(BUNDLE_END.encode())
    return n


WRITERS = {"jsonl": _lines(json_record), "ecs": _lines(ecs_document), "csv": _csv, "stix": _stix}


def export(db, query: AlertQuery, fmt: str, out: IO[bytes], *, chunk: int = DEFAULT_CHUNK) -> int:
    """Write the alerts ``query`` selects from the store database ``db`` to the binary
    stream ``out`` in format ``fmt`` (one of :data:`FORMATS`), UTF-8; return how many
    alerts were written."""
    if fmt not in WRITERS:
        raise DataError(f"unknown export format {fmt!r}: expected one of {', '.join(FORMATS)}")
    with _no_cycle_collection():
        return WRITERS[fmt](db, query, out, chunk)


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic garbage collector paused: an export makes millions of short-lived,
    acyclic objects (freed by reference counting as each chunk is written), and the
    collector's passes over them cost a fifth of the time."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def export_file(db, query: AlertQuery, fmt: str, path: Path, *, chunk: int = DEFAULT_CHUNK) -> int:
    """:func:`export` to ``path``, atomically: on any failure ``path`` is as it was."""
    with writing_atomic(path) as handle:
        return export(db, query, fmt, handle, chunk=chunk)
