"""EDGE: read CSV or Parquet files in batches, each checked against a DatasetSpec.

A :class:`TableSource` is the ``Source`` protocol for tabular flow data: iterate it to get
:class:`Batch` objects holding only valid rows. With ``on_error="raise"`` the first invalid
row stops the read with a :class:`~trustshield.errors.DataError`; with ``"skip"`` invalid
rows are dropped and counted.
"""

from __future__ import annotations

import csv
import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from trustshield.errors import DataError, DatasetMissing
from trustshield.utf8 import not_utf8
from trustshield.ingest.datasets import KnownFile, locate, sha256_of
from trustshield.ingest.validate import (
    NO_ROWS,
    CheckedFrame,
    RowProblem,
    check_frame,
    refuse_blank,
    wrong_field_count,
)
from trustshield.specs import DatasetSpec

ON_ERROR = ("raise", "skip")
DEFAULT_BATCH_ROWS = 65_536


@dataclass
class Batch:
    """Valid rows of one batch: typed frame and the file line of each row; ``entities``,
    when the source knows them, a frame of the same rows whose columns are among
    :data:`trustshield.records.ENTITY_FIELDS` (the connection each row is about)."""

    frame: pd.DataFrame
    lines: np.ndarray
    rejected: tuple[RowProblem, ...] = ()
    rejected_rows: int = 0
    entities: pd.DataFrame | None = None


def first_problem(problems: tuple[RowProblem, ...]) -> DataError:
    """The error that stops a strict read: the first problem, and how many more the batch has."""
    more = len(problems) - 1
    tail = (
        f" ({more} more problem{'s' * (more != 1)} in this batch; "
        "use --on-error skip to drop invalid rows)"
        if more
        else ""
    )
    return DataError(problems[0].message() + tail)


def quoted_as_written(
    problems: tuple[RowProblem, ...], text: dict[int, str], names: list[str]
) -> tuple[RowProblem, ...]:
    """Each problem with its value as the CSV line holds it; ``text``: {line: line text},
    ``names``: the file's columns in order. A line or column not found keeps its value."""
    index = {name: i for i, name in enumerate(names)}
    out = []
    for p in problems:
        try:
            fields = next(csv.reader([text.get(p.line, "")]), [])
        except csv.Error:  # a field past the csv module's size limit: keep pandas' value
            fields = []
        i = index.get(p.column)
        written = fields[i].strip() if i is not None and i < len(fields) else p.value
        out.append(dataclasses.replace(p, value=written))
    return tuple(out)


@dataclass
class TableSource:
    """Validated batches from one CSV or Parquet file for one spec."""

    path: Path
    spec: DatasetSpec
    batch_rows: int = DEFAULT_BATCH_ROWS
    on_error: str = "raise"
    rejected_rows: int = field(default=0, init=False)
    rows_read: int = field(default=0, init=False)
    _names: list[str] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.on_error not in ON_ERROR:
            raise DataError(f"on_error must be one of {list(ON_ERROR)}, got {self.on_error!r}")
        if not self.path.is_file():
            raise DataError(f"data file not found: {self.path}")
        refuse_blank(self.path, self._expected())
        self.sha256 = sha256_of(self.path)
        known = {f.name: f for f in self.spec.files}.get(self.path.name)
        if known is not None and known.sha256 != self.sha256:
            raise DatasetMissing(
                f"{self.path}: altered: expected sha256 {known.sha256} "
                f"(recorded in spec {self.spec.name}), found {self.sha256}"
            )

    def __iter__(self) -> Iterator[Batch]:
        for raw, lines in self._raw_batches():
            checked = check_frame(raw, self.spec, file=str(self.path), lines=lines)
            if checked.problems and self._names:
                checked = dataclasses.replace(checked, problems=self._as_written(checked.problems))
            self.rows_read += len(raw)
            self._handle(checked)
            yield Batch(checked.frame, checked.lines, checked.problems, checked.rejected_rows)
        if not self.rows_read:  # a header (or blank lines) only: nothing to train or score
            parquet = self.path.suffix.lower() in (".parquet", ".pq")
            raise DataError(
                f"{self.path}: no data rows (the Parquet table has 0 rows)"
                if parquet
                else NO_ROWS.format(file=self.path)
            )

    def describe(self) -> dict:
        """What was read, for provenance: file name, path, sha256, rows read and rejected
        (counts so far; complete once the source is exhausted)."""
        return {
            "name": self.path.name,
            "path": str(self.path),
            "sha256": self.sha256,
            "rows": int(self.rows_read),
            "rejected_rows": int(self.rejected_rows),
        }

    def _expected(self) -> str:
        """What the file should hold, for the error about an empty one."""
        if self.path.suffix.lower() in (".parquet", ".pq"):
            return f"a Parquet table with the columns of spec {self.spec.name}"
        rows = f"one row per record with the columns of spec {self.spec.name}"
        return f"a header line, then {rows}" if self.spec.header else rows

    def read_all(self) -> pd.DataFrame:
        """Every valid row as one frame (training, benchmarks); detection streams batches."""
        frames = [batch.frame for batch in self]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _as_written(self, problems: tuple[RowProblem, ...]) -> tuple[RowProblem, ...]:
        """Quote each rejected field as the file holds it (pandas may have parsed it)."""
        wanted = {p.line for p in problems}
        text = {}
        with self.path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
            for number, line in enumerate(handle, start=1):
                if number in wanted:
                    text[number] = line
                    if len(text) == len(wanted):
                        break
        return quoted_as_written(problems, text, self._names)

    def _handle(self, checked: CheckedFrame) -> None:
        if checked.problems and self.on_error == "raise":
            raise first_problem(checked.problems)
        self.rejected_rows += checked.rejected_rows

    def _raw_batches(self) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        if self.path.suffix.lower() in (".parquet", ".pq"):
            yield from self._parquet()
        else:
            yield from self._csv()

    def _parquet(self) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        start = 1
        for record_batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.batch_rows):
            frame = record_batch.to_pandas()
            self._check_columns(list(frame.columns))
            yield frame, np.arange(start, start + len(frame), dtype=np.int64)
            start += len(frame)

    def _csv(self) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        names, first_line = self._csv_layout()
        self._names = names
        text_cols = {c.name: str for c in self.spec.columns if not c.is_numeric}
        start = first_line
        try:
            reader = pd.read_csv(
                self.path,
                header=None,
                names=names,
                skiprows=first_line - 1,
                chunksize=self.batch_rows,
                dtype=text_cols,
                skip_blank_lines=False,
                keep_default_na=False,
                na_values=[""],
                skipinitialspace=True,
            )
            for frame in reader:
                lines = np.arange(start, start + len(frame), dtype=np.int64)
                start += len(frame)
                blank = frame.isna().all(axis=1).to_numpy()
                if blank.any():  # blank lines keep their line number but carry no record
                    frame, lines = frame[~blank], lines[~blank]
                yield frame, lines
        except pd.errors.ParserError as exc:
            wrong_width = wrong_field_count(exc, str(self.path))
            if wrong_width:
                raise wrong_width from None
            row = re.search(r"starting at row (\d+)", str(exc))
            where = f"line {start + int(row[1])}" if row else f"after line {start - 1}"
            raise DataError(f"{self.path}: {where}: malformed CSV ({str(exc).strip()})") from None
        except UnicodeDecodeError:
            raise not_utf8(self.path, self.path) from None

    def _csv_layout(self) -> tuple[list[str], int]:
        """Column names in file order and the line number of the first data row."""
        with self.path.open(encoding="utf-8-sig", errors="replace") as handle:  # BOM dropped
            first = handle.readline().rstrip("\r\n").split(",")
        if self.spec.header:
            names = [name.strip() for name in first]
            self._check_columns(names)
            return names, 2
        full = list(self.spec.column_names)
        bare = list(self.spec.feature_names)
        for names in (full, bare):
            if len(first) == len(names):
                return names, 1
        raise DataError(
            f"{self.path}: line 1 has {len(first)} fields; spec {self.spec.name} "
            f"expects {len(full)} (all columns) or {len(bare)} (features only)"
        )

    def _check_columns(self, names: list[str]) -> None:
        missing = [f for f in self.spec.feature_names if f not in names]
        if missing:
            raise DataError(
                f"{self.path}: missing columns required by spec {self.spec.name}: {missing}"
            )


def recorded_source(spec: DatasetSpec, role: str = "label") -> TableSource:
    """The table of the single data file ``spec`` records, located in the data folders and
    sha256-checked (:func:`~trustshield.ingest.datasets.locate`); ``role`` names the label
    column in the error for a spec that records no file, data set or label column."""
    if not spec.files or spec.dataset is None or spec.label_column is None:
        raise DatasetMissing(f"spec {spec.name} records no data file, data set or {role} column")
    recorded = spec.files[0]
    known = KnownFile(recorded.name, recorded.sha256, recorded.url, recorded.rows)
    return TableSource(locate(spec.dataset, known), spec)
