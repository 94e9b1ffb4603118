"""The ``Source`` role: what detection, evaluation and training read records from.

A source is one input file checked against one DatasetSpec. Iterating it yields
:class:`~trustshield.ingest.tabular.Batch` objects of valid rows only (typed per spec, with
the line or record number of each row); with ``on_error="raise"`` the first invalid row
stops the read with a DataError naming file, line, field and expectation, with ``"skip"``
invalid rows are counted in ``rejected_rows`` and listed in each batch's ``rejected``.
``rows_read`` counts every row read so far, valid or not. ``sha256`` identifies the file
(alert ids derive from it). Implementations: ``TableSource`` (CSV/Parquet),
``ConnectionSource`` (conn.log, flow CSVs, captures); conformance in tests/ingest.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from trustshield.ingest.tabular import Batch
from trustshield.specs import DatasetSpec


@runtime_checkable
class Source(Protocol):
    path: Path
    spec: DatasetSpec
    sha256: str
    rows_read: int
    rejected_rows: int

    def __iter__(self) -> Iterator[Batch]: ...
