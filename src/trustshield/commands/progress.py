"""Progress bars on stderr for long steps (rich), quiet when not on a terminal."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)  # progress and steps
output = Console()  # results: tables, figures, paths


@contextlib.contextmanager
def row_progress(description: str, total: int | None):
    """Yield ``advance(n_rows)``; shows rows done, rate and time left."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=console, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def step(message: str) -> None:
    console.print(f"[bold]·[/bold] {message}")


def count_rows(path, header: bool) -> int | None:
    """Line count of a CSV (fast, binary read) for the bar's total; None for Parquet."""
    if str(path).lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return lines - (1 if header else 0)
