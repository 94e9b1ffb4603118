"""``watch`` with a behaviour model: host behaviour over a growing conn.log, incidents
emitted once as their periods close, exactly once across crashes.

The loop follows the log (:class:`~trustshield.ingest.follow.Follower`), cuts its lines
into micro-batches (``batch_records`` records or ``batch_seconds``) and feeds a
:class:`~trustshield.incidents.streaming.BehaviourStream` (``evidence="period"``): a window
closes ``lateness_s`` after its end, a host's flagged period closes when the stream has
moved ``gap_s`` past its last flagged window, and that period becomes one incident. Each
batch commits in one transaction: the incidents it closed (with their evidence), the
stream's state (:mod:`trustshield.store.behaviour_watch`), its ledger row and the
checkpoint (byte offset, next line, and where the records of still-open windows start).
A restart loads the state, reads those records again (records of closed windows among
them are skipped) and goes on from the checkpoint: a crash at any point repeats nothing
and loses nothing. Records more than ``lateness_s`` late are counted and left out.

Memory holds the open windows (``lateness_s`` of records), the rows and flows of open
flagged periods and the look-back counts (one per host and per host and destination).
After each commit a DuckDB store's cache is trimmed to :data:`STORE_CACHE`: DuckDB keeps
the pages it writes cached until its pool is full (512 MB by default), so without it the
process grows by about what it stores (the evidence flows of its incidents).
A rotated log is followed, but the re-read after a crash covers the current file only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustshield.incidents.evidence import incident_evidence
from trustshield.incidents.model import BehaviourDetection
from trustshield.incidents.streaming import BehaviourStream, kept_from_arrow, kept_to_arrow
from trustshield.ingest.follow import Follower, Lines, Position
from trustshield.ingest.zeek import new_header
from trustshield.ingest.zeek_chunks import conn_chunk
from trustshield.ingest.zeek_columns import BEHAVIOUR_FIELDS, conn_block
from trustshield.pipeline.watch import STORE_CACHE, stream_name
from trustshield.store.behaviour_watch import BehaviourWatchState

#: records waiting before the windows the stream has passed are closed (fewer, larger
#: closings: each builds the channel windows and their checkpoints once)
CLOSE_RECORDS = 100_000
#: ... or seconds since the last closing, whichever comes first
CLOSE_SECONDS = 30.0


@dataclass(frozen=True)
class BehaviourWatchSummary:
    """How one behaviour watch ended: records read by this process, incidents stored by
    it, records left out as late (whole stream), open periods and notices."""

    records: int
    incidents: int
    late: int
    open_periods: int
    notices: tuple[str, ...]


def watch_behaviour(
    path: str | Path,
    store,
    model: BehaviourDetection,
    model_id: str,
    *,
    batch_records: int = 20_000,
    batch_seconds: float = 2.0,
    once: bool = False,
    until_idle: float | None = None,
    lateness_s: float | None = None,
    close_records: int = CLOSE_RECORDS,
    close_seconds: float = CLOSE_SECONDS,
    progress=None,
    stop=lambda: False,
    poll_s: float = 0.2,
) -> BehaviourWatchSummary:
    """Follow the conn.log at ``path`` into ``store`` (incidents, state, ledger) until
    ``stop()``, or (``once``) nothing more is there, or nothing came for ``until_idle``
    seconds. Windows the stream has passed are closed once ``close_records`` records are
    waiting or ``close_seconds`` after the last closing (the incidents do not depend on
    where the stream is cut). ``progress(figures)`` gets records, incidents and
    records_per_s after each commit (``end_of_run``: True for the commit of the windows
    closed when the run ends)."""
    run = _BehaviourWatch(
        Path(path), store, model, model_id, batch_records, lateness_s, close_records
    )
    run.close_seconds = close_seconds
    try:
        run.loop(stop, once, until_idle, batch_seconds, poll_s, progress)
    finally:
        run.follower.close()
    return BehaviourWatchSummary(
        run.records,
        run.incidents,
        run.stream.late,
        len(run.stream.open_periods),
        tuple(run.follower.notices),
    )


class _BehaviourWatch:
    def __init__(
        self,
        path: Path,
        store,
        model,
        model_id: str,
        batch_records: int,
        lateness_s,
        close_records: int,
    ):
        self.store, self.model_id, self.batch_records = store, model_id, batch_records
        self.state = BehaviourWatchState(store)
        self.key = stream_name(path, model_id)
        self.run_id = uuid.uuid4().hex[:16]
        self.stream = BehaviourStream(
            model,
            lateness_s=lateness_s,
            chunk_records=max(close_records, 1),
            on_late="drop",
            evidence="period",
        )
        self.records = self.incidents = 0
        self.started = self.closed_at = time.monotonic()
        self.close_seconds = CLOSE_SECONDS
        self.buffer: list[Lines] = []
        self.buffered, self.since = 0, 0.0
        self.header = new_header()
        self.identity, self.next_offset, self.next_line = None, -1, 1
        self.saved = 0  # kept parts already in the store
        self.follower = self._resume(path)

    def _resume(self, path: Path) -> Follower:
        cp = self.store.watch.checkpoint(self.key)
        state, parts = self.state.load(self.key)
        if cp is None or state is None:
            return Follower(path)
        self.stream.restore(state["stream"], [kept_from_arrow(r, f) for r, f in parts])
        self.saved = len(self.stream.kept)
        follower = Follower(
            path,
            resume=Position(cp["dev"], cp["ino"], cp["file_id"], cp["byte_offset"], cp["line"]),
            seen=lambda h: self.store.watch.seen(self.key, h),
        )
        identity = follower.identity
        if identity is None or identity.head_sha256 != cp["file_id"]:
            return follower
        head = identity.head[: identity.head.rfind(b"\n", 0, len(identity.head) - 1) + 1]
        conn_chunk(head, self.header, file=identity.path, first_line=1)
        if cp["context_offset"] < cp["byte_offset"]:
            data = follower.read_range(cp["context_offset"], cp["byte_offset"])
            again = Lines(identity, data, cp["context_offset"], cp["context_line"])
            self.stream.add(self._records(again), replay=True)
        self.identity, self.next_offset = identity, cp["byte_offset"]
        self.next_line = cp["line"]
        return follower

    def loop(self, stop, once, until_idle, batch_seconds, poll_s, progress) -> None:
        idle_since = None
        while not stop():
            lines = self.follower.poll()
            if lines is not None:
                self._take(lines, progress)
                idle_since = None
                continue
            now = time.monotonic()
            if self.buffer and (
                once or until_idle is not None or now - self.since >= batch_seconds
            ):
                self._flush(progress)
            if once:
                break
            idle_since = now if idle_since is None else idle_since
            if until_idle is not None and now - idle_since >= until_idle:
                break
            time.sleep(poll_s)
        self._flush(progress)
        self._close_ready(progress)

    def _close_ready(self, progress) -> None:
        """At the end of a run: close the windows the stream has passed and commit."""
        stream = self.stream
        if self.identity is None or not stream.buffer or stream.min_w >= stream.ready():
            return
        stream.close(stream.ready())
        self._commit(None, stream.close_incidents(), 0)
        self._report(progress, end_of_run=True)

    def _take(self, lines: Lines, progress) -> None:
        identity = lines.identity
        if self.identity is None or (identity.dev, identity.ino, identity.head_sha256) != (
            self.identity.dev,
            self.identity.ino,
            self.identity.head_sha256,
        ):
            self._flush(progress)
            self.identity, self.header = identity, new_header()
        if not self.buffer:
            self.since = time.monotonic()
        self.buffer.append(lines)
        self.buffered += lines.data.count(b"\n")
        self.next_offset = lines.end
        if self.buffered >= self.batch_records:
            self._flush(progress)

    def _records(self, lines: Lines):
        """The records of ``lines`` with their byte ``offset`` and ``line`` number."""
        data = lines.data
        starts = lines.start + np.concatenate(
            [[0], np.flatnonzero(np.frombuffer(data, np.uint8) == 10)[:-1] + 1]
        ).astype(np.int64)
        header = self.header
        fast = None
        plain = header["separator"] == "\t" and not header.get("spaced_tail")
        if header["fields"] is not None and plain and not data.startswith(b"#"):
            if b"\n#" not in data and b"\n\n" not in data and b"\r" not in data:
                fast = conn_block(data, header["fields"][1], unset=header["unset_field"])
                fast = (
                    None
                    if fast is None
                    else fast[[c for c in BEHAVIOUR_FIELDS if c in fast.columns]]
                )
        if fast is not None:
            fast["offset"] = starts
            fast["line"] = np.arange(lines.first_line, lines.first_line + len(fast))
            return fast
        conns, numbers, _ = conn_chunk(
            data,
            self.header,
            file=lines.identity.path,
            first_line=lines.first_line,
            fields=(*BEHAVIOUR_FIELDS, "id.orig_p"),
            skip_bad=True,
        )
        conns = conns[[c for c in BEHAVIOUR_FIELDS if c in conns.columns]].copy()
        conns["offset"] = starts[numbers - lines.first_line]
        conns["line"] = numbers
        return conns

    def _flush(self, progress) -> None:
        if not self.buffer:
            return
        first = self.buffer[0]
        data = b"".join(b.data for b in self.buffer)
        self.buffer, self.buffered = [], 0
        ends = np.flatnonzero(np.frombuffer(data, np.uint8) == 10)[
            self.batch_records - 1 :: self.batch_records
        ]
        cuts = [0, *(ends + 1).tolist()]
        if cuts[-1] != len(data):
            cuts.append(len(data))
        start, line = first.start, first.first_line
        for a, b in zip(cuts[:-1], cuts[1:]):
            self._batch(Lines(self.identity, data[a:b], start + a, line), progress)
            line += data.count(b"\n", a, b)

    def _batch(self, lines: Lines, progress) -> None:
        conns = self._records(lines)
        before, closed_w = self.stream.records, self.stream.next_w
        self.stream.add(conns)  # closes windows once close_records are waiting
        now = time.monotonic()
        if self.stream.next_w != closed_w:
            self.closed_at = now
        elif now - self.closed_at >= self.close_seconds:
            self.stream.close(self.stream.ready())
            self.closed_at = now
        closed = self.stream.close_incidents()
        self._commit(lines, closed, self.stream.records - before)
        self._report(progress)

    def _report(self, progress, *, end_of_run: bool = False) -> None:
        if progress is not None:
            seconds = max(time.monotonic() - self.started, 1e-9)
            progress(
                {
                    "records": self.records,
                    "incidents": self.incidents,
                    "records_per_s": self.records / seconds,
                    "late": self.stream.late,
                    "end_of_run": end_of_run,
                }
            )

    def _commit(self, lines: Lines | None, closed, records: int) -> None:
        """One transaction: the incidents ``closed``, the stream state, the checkpoint and
        (``lines``: the batch read) its ledger row."""
        stream = self.stream
        if lines is not None:
            self.next_line = lines.first_line + lines.data.count(b"\n")
            self.next_offset = lines.end
        next_line, end = self.next_line, self.next_offset
        again = stream.resume_offset("offset")
        again_line = stream.resume_offset("line")
        replace = bool(closed) or self.saved > len(stream.kept)
        new = stream.kept if replace else stream.kept[self.saved :]
        identity = self.identity
        checkpoint = {
            "file_id": identity.head_sha256,
            "path": identity.path,
            "dev": identity.dev,
            "ino": identity.ino,
            "byte_offset": end,
            "line": next_line,
            "context_offset": end if again is None else again,
            "context_line": next_line if again_line is None else again_line,
            "context_clock": 0.0,
            "records": records,
        }
        ledger = (
            None
            if lines is None
            else {
                "file_id": identity.head_sha256,
                "path": identity.path,
                "first_line": lines.first_line,
                "last_line": next_line - 1,
                "records": records,
                "rejected": 0,
                "alerts": len(closed),
                "start_offset": lines.start,
                "end_offset": lines.end,
                "run_id": self.run_id,
            }
        )
        with self.store.transaction():
            added = self.store.incidents.add(
                self.model_id,
                identity.path,
                [(i, incident_evidence(i, flows)) for i, flows in closed],
            )
            self.state.save(
                self.key,
                {"stream": stream.state()},
                [kept_to_arrow(k) for k in new],
                replace=replace,
            )
            self.store.watch.commit(self.key, checkpoint, ledger)
        self.store.db.trim_cache(STORE_CACHE)
        self.saved = len(stream.kept)
        self.records += records
        self.incidents += len(added)
