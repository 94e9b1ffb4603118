"""Mutation fuzzing of TrustShield's readers: seeded damage to real input files, each case
run in a separate process under a time limit.

A :class:`FuzzTarget` names a reader (a function of one file path), the file suffix it
expects, the seed files (bytes of real inputs) and the errors it may raise on purpose. Each
case takes a seed, applies one to three :data:`MUTATIONS` chosen by a seeded
``random.Random`` (truncation, flipped or inserted bytes, dropped or repeated lines, a lost
header, a huge field, an out-of-range number, another encoding, other line endings, ...),
writes the result to a file and reads it in a worker process. The outcome of a case is one of:

- ``result``: the reader returned;
- ``refused``: it raised an allowed error whose message names the file;
- ``unnamed``: an allowed error whose message does not name the file;
- ``unexpected``: any other exception;
- ``hang``: no answer within the time limit (the worker is killed and replaced);
- ``crash``: the worker died (a segfault, an abort, memory exhausted).

Only ``result`` and ``refused`` are acceptable. The same (target, seed, cases) always
makes the same cases, so a failure found once is found again.
"""

from __future__ import annotations

import multiprocessing
import random
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ACCEPTABLE = ("result", "refused")
#: the text a huge-field mutation writes: ~1 MB, and numbers past float64 and int64
HUGE = (
    b"A" * 1_000_000,
    b"9" * 400,
    b"1e999",
    b"-1e999",
    b"99999999999999999999999",
    b"-0",
    b"NaN",
    b"inf",
    b"0x1F",
    b"1_000",
    b"\xef\xbb\xbf1",
    b"",
    b'"',
    b"'\\",
)
SEPARATORS = (b",", b"\t", b" ", b";")
JUNK = (
    b"\x00",
    b"\xff\xfe",
    b"\r",
    b"\n",
    b'"',
    b",",
    b"\t",
    b"#",
    b"\xc3",
    b"\xe2\x80\xae",
    b"{",
    b"}",
    b"-",
    b".",
)


@dataclass(frozen=True)
class FuzzTarget:
    """One reader under fuzz: ``read(path)`` reads a file named ``file_name``; ``seeds``
    gives real input files' bytes (called once, in the parent); ``allowed``: the errors it
    may raise on bad input."""

    name: str
    file_name: str
    seeds: Callable[[], list[bytes]]
    read: Callable[[Path], object]
    allowed: tuple[type[BaseException], ...]


@dataclass(frozen=True)
class CaseOutcome:
    """One case: which mutations made it, what happened, how long it took (seconds)."""

    case: int
    mutations: tuple[str, ...]
    outcome: str
    seconds: float
    detail: str = ""


@dataclass
class TargetReport:
    """Every case of one target: counts by outcome and the unacceptable cases in full."""

    target: str
    cases: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failures: list[CaseOutcome] = field(default_factory=list)
    seconds: float = 0.0
    slowest_case_s: float = 0.0

    def add(self, case: CaseOutcome) -> None:
        self.cases += 1
        self.outcomes[case.outcome] += 1
        self.slowest_case_s = max(self.slowest_case_s, case.seconds)
        if case.outcome not in ACCEPTABLE:
            self.failures.append(case)

    def as_dict(self) -> dict:
        return {
            "target": self.target,
            "cases": self.cases,
            "outcomes": dict(self.outcomes),
            "unacceptable": len(self.failures),
            "seconds": round(self.seconds, 2),
            "slowest_case_s": round(self.slowest_case_s, 3),
            "failures": [vars(f) | {"mutations": list(f.mutations)} for f in self.failures[:20]],
        }


# --- mutations: (bytes, rng) -> bytes -------------------------------------------------------


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def flip_bytes(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= rng.randint(1, 255)
    return bytes(out)


def insert_junk(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    junk = b"".join(rng.choice(JUNK) for _ in range(rng.randint(1, 6)))
    return data[:at] + junk + data[at:]


def delete_span(data: bytes, rng: random.Random) -> bytes:
    if not data:
        return data
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, 200) :]


def drop_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def drop_header(data: bytes, rng: random.Random) -> bytes:
    """Remove the first line, or every leading comment line (a Zeek header)."""
    lines = _lines(data)
    if lines and lines[0].startswith(b"#") and rng.random() < 0.5:
        while lines and lines[0].startswith(b"#"):
            lines.pop(0)
        return b"\n".join(lines)
    return b"\n".join(lines[1:])


def repeat_line(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"\n".join(lines[:i] + [lines[i]] * rng.randint(2, 50) + lines[i + 1 :])


def swap_lines(data: bytes, rng: random.Random) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"\n".join(lines)


def _edit_cells(data: bytes, rng: random.Random, edit: Callable[[list[bytes]], None]) -> bytes:
    """``data`` with the fields of one random line (split on , tab space or ;) changed in
    place by ``edit``."""
    lines = _lines(data)
    i = rng.randrange(len(lines))
    sep = next((s for s in SEPARATORS if s in lines[i]), b",")
    cells = lines[i].split(sep)
    edit(cells)
    lines[i] = sep.join(cells)
    return b"\n".join(lines)


def huge_field(data: bytes, rng: random.Random) -> bytes:
    """Replace one field of one line with a huge or odd value."""

    def replace(cells: list[bytes]) -> None:
        cells[rng.randrange(len(cells))] = rng.choice(HUGE)

    return _edit_cells(data, rng, replace)


def wrong_field_count(data: bytes, rng: random.Random) -> bytes:
    """Drop a field of one line, or add one."""

    def recount(cells: list[bytes]) -> None:
        if rng.random() < 0.5 and len(cells) > 1:
            del cells[rng.randrange(len(cells))]
        else:
            cells.insert(rng.randrange(len(cells) + 1), rng.choice(HUGE[2:]))

    return _edit_cells(data, rng, recount)


def reencode(data: bytes, rng: random.Random) -> bytes:
    """The same text in another encoding, or with a byte-order mark, or as Latin-1 bytes."""
    text = data.decode("utf-8", "replace") + rng.choice(["", "é", "\u202e", "日本"])
    encoding = rng.choice(["utf-16", "utf-16-le", "utf-32", "latin-1", "utf-8-sig", "cp1252"])
    return text.encode(encoding, "replace")


def line_endings(data: bytes, rng: random.Random) -> bytes:
    return data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\x0b"]))


def emptied(data: bytes, rng: random.Random) -> bytes:
    return rng.choice([b"", b"\n", b" ", b"\x00" * 64, data[:1], _lines(data)[0]])


def splice(data: bytes, rng: random.Random) -> bytes:
    """A block of the file copied somewhere else in it."""
    if len(data) < 2:
        return data * 2
    a = rng.randrange(len(data))
    b = min(len(data), a + rng.randint(1, 4096))
    at = rng.randrange(len(data) + 1)
    return data[:at] + data[a:b] + data[at:]


MUTATIONS: dict[str, Callable[[bytes, random.Random], bytes]] = {
    f.__name__: f
    for f in (
        truncate,
        flip_bytes,
        insert_junk,
        delete_span,
        drop_line,
        drop_header,
        repeat_line,
        swap_lines,
        huge_field,
        wrong_field_count,
        reencode,
        line_endings,
        emptied,
        splice,
    )
}


def make_case(seeds: Sequence[bytes], rng: random.Random) -> tuple[tuple[str, ...], bytes]:
    """One fuzz case: a seed with one to three mutations; returns (their names, the bytes)."""
    data = rng.choice(seeds)
    names = tuple(rng.choice(list(MUTATIONS)) for _ in range(rng.choice((1, 1, 2, 3))))
    for name in names:
        data = MUTATIONS[name](data, rng)
    return names, data


# --- running cases in a worker process -------------------------------------------------------


def _names_file(message: str, path: Path) -> bool:
    return path.name in message


def _serve(target: FuzzTarget, conn, folder: str) -> None:
    """Worker loop: read (case, bytes), answer (outcome, detail); None ends it."""
    path = Path(folder) / target.file_name
    while (job := conn.recv()) is not None:
        number, data = job
        path.write_bytes(data)
        try:
            target.read(path)
            answer = ("result", "")
        except target.allowed as exc:
            message = str(exc)
            answer = ("refused" if _names_file(message, path) else "unnamed", message[:300])
        except Exception as exc:  # the point is to catch what should not happen
            tail = "".join(traceback.format_exception(exc)[-3:])
            answer = ("unexpected", f"{type(exc).__name__}: {str(exc)[:200]}\n{tail[-600:]}")
        conn.send(answer)


class _Worker:
    """A forked process that reads the cases of one target; replaced after a hang or crash."""

    def __init__(self, target: FuzzTarget, folder: str):
        self.target, self.folder = target, folder
        context = multiprocessing.get_context("fork")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(target, child, folder), daemon=True)
        self.process.start()
        child.close()

    def run(self, number: int, data: bytes, time_limit: float) -> tuple[str, str]:
        self.conn.send((number, data))
        if self.conn.poll(time_limit):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        elif self.process.is_alive():
            self.process.kill()
            self.process.join()
            return "hang", f"no answer within {time_limit:g} s"
        self.process.join()
        return "crash", f"worker exit code {self.process.exitcode}"

    def close(self) -> None:
        if self.process.is_alive():
            try:
                self.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            self.process.join(5)
            if self.process.is_alive():
                self.process.kill()
                self.process.join()


def fuzz(
    target: FuzzTarget,
    *,
    cases: int,
    seed: int = 0,
    time_limit: float = 10.0,
    progress: Callable[[int], None] | None = None,
) -> TargetReport:
    """Run ``cases`` cases of ``target`` (deterministic in ``seed``); each case may take at
    most ``time_limit`` seconds. ``progress`` is called with the number of cases done."""
    seeds = [s for s in target.seeds() if s]
    if not seeds:
        raise ValueError(f"fuzz target {target.name}: no seed file")
    rng = random.Random(f"{target.name}:{seed}")
    report = TargetReport(target.name)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target.name}-") as folder:
        worker = _Worker(target, folder)
        try:
            for number in range(cases):
                names, data = make_case(seeds, rng)
                t0 = time.perf_counter()
                outcome, detail = worker.run(number, data, time_limit)
                report.add(CaseOutcome(number, names, outcome, time.perf_counter() - t0, detail))
                if outcome in ("hang", "crash"):
                    worker = _Worker(target, folder)
                if progress:
                    progress(number + 1)
        finally:
            worker.close()
    report.seconds = time.perf_counter() - started
    return report
