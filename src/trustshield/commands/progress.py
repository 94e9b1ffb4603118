"""Progress on stderr for long steps (rich): bars on a terminal; elsewhere one line per step.

Every step line starts with the time elapsed since the command started (``[  12.3 s]``),
so a log of ``make demo`` shows where the time went; a command wrapped in :func:`timed`
ends with its wall-clock and CPU seconds. The consoles wrap at the terminal's width only
when they write to a terminal (a pipe or a file gets whole lines, never wrapped or cut).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import time

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
_started = time.monotonic()


def elapsed() -> str:
    """Seconds since the command started, as ``[  12.3 s]``."""
    return f"[{time.monotonic() - _started:6.1f} s]"


@contextlib.contextmanager
def row_progress(description: str, total: int | None):
    """Yield ``advance(n_rows)``; on a terminal shows rows done, rate and time left,
    elsewhere one line when done: rows and seconds."""
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    quiet = not sys.stderr.isatty()
    start = time.monotonic()
    with Progress(*columns, console=console, disable=quiet) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
    if quiet:
        rows = int(bar.tasks[0].completed)
        step(f"{description}: {rows:,} rows in {time.monotonic() - start:.1f} s")


def step(message: str) -> None:
    """One progress line on stderr, after the time elapsed since the command started."""
    console.print(f"[dim]{elapsed()}[/dim] [bold]·[/bold] {message}", soft_wrap=True)


def timed(name: str):
    """Decorate a command: after it returns, one line with its wall-clock and CPU seconds."""

    def wrap(command):
        @functools.wraps(command)
        def run(*args, **kwargs):
            wall, cpu = time.monotonic(), time.process_time()
            result = command(*args, **kwargs)
            step(
                f"{name} done in {time.monotonic() - wall:.1f} s "
                f"({time.process_time() - cpu:.1f} s CPU)"
            )
            return result

        return run

    return wrap


def count_rows(path, header: bool) -> int | None:
    """Line count of a CSV (fast, binary read) for the bar's total; None for Parquet."""
    if str(path).lower().endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).metadata.num_rows
    with open(path, "rb") as handle:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return lines - (1 if header else 0)
