"""Progress bars on stderr for long steps (rich), quiet when not on a terminal; the
consoles results and steps are printed on, which wrap at the terminal's width only when
they write to a terminal (a pipe or a file gets whole lines, never wrapped or cut)."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

#: line width of a console that does not write to a terminal: never wrapped
UNWRAPPED = 100_000


class LineConsole(Console):
    """A rich Console at the terminal's width on a terminal, and :data:`UNWRAPPED` wide
    otherwise (rich alone takes the width of any terminal the process has, or 80 columns,
    even when printing to a pipe: a long command it suggests would break in two)."""

    @property
    def size(self) -> ConsoleDimensions:
        if self.is_terminal:
            return super().size
        return ConsoleDimensions(UNWRAPPED, super().size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


console = LineConsole(stderr=True)  # progress and steps
output = LineConsole()  # results: tables, figures, paths


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
