"""Streaming detection over a growing Zeek conn.log, every record scored and stored exactly once.

The loop (:func:`watch`) follows the log (:class:`~trustshield.ingest.follow.Follower`),
cuts its complete lines into micro-batches (``batch_records`` records, or whatever arrived
within ``batch_seconds``), derives the KDD features of each record in the context of the
records before it (:class:`~trustshield.pipeline.stream_features.StreamContext`, which says
how these features relate to ``kdd_features`` over a whole file), scores them (in this process, or in ``workers``
processes with commits kept in file order) and commits each batch in one transaction: its
alerts and rejected rows, its ledger row and the checkpoint (file, byte offset, line, and
where the feature context starts). A restart reads the checkpoint, re-reads the context
records before it and carries on, so a crash at any point loses nothing and repeats
nothing; alert ids (model, file head sha256, line) are the same whoever scores a record.

Memory is bounded by ``batch_records``, the feature context (``TAIL_MAX`` records) and the
batches in flight (two per worker).
"""

from __future__ import annotations

import concurrent.futures
import time
import uuid
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from trustshield.errors import ModelIntegrityError
from trustshield.ingest.connections import connection_entities
from trustshield.ingest.follow import Follower, Lines, Position
from trustshield.ingest.tabular import Batch
from trustshield.ingest.zeek_chunks import conn_chunk, json_chunk, new_header
from trustshield.model_folder import ModelFiles, model_from_files, read_model_files
from trustshield.pipeline.detect import alerts_table, encoded_frame
from trustshield.pipeline.drift_windows import WINDOW, DriftWindows
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.stream_features import USED_FIELDS, StreamContext
from trustshield.records import RunSummary
from trustshield.workers.pool import WorkerLost, WorkerPool

#: scoring processes run single-threaded (spin-waiting thread pools cost more than they give)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: the fields read from each record: the features' and the connection id an alert names
#: among its entities (see ingest.connections.connection_entities)
READ_FIELDS = (*USED_FIELDS, "uid")


#: what a DuckDB store's cache may hold after each commit of a watch (``Database.trim_cache``;
#: nothing on PostgreSQL): DuckDB keeps the pages it writes cached until its pool is full
#: (512 MB by default), so without it a long watch grows by about what it stores. 32 MB is
#: above the data DuckDB holds between checkpoints of its log (up to about 25 MB measured),
#: so trimming drops only cached pages of the file, which the watch does not read again.
#: The pool's own limit stays the store's: a commit and a checkpoint may use more meanwhile
#: (under a 32 MB limit DuckDB's checkpoint failed, fatally, in the benchmark's watch).
STORE_CACHE = "32MB"


def parse_lines(lines: Lines, header: dict, *, skip_bad: bool):
    """(conns, line numbers (n,), byte offsets (n,), rejected RowProblems) of one read."""
    data = lines.data
    starts = lines.start + np.concatenate(
        [[0], np.flatnonzero(np.frombuffer(data, np.uint8) == 10)[:-1] + 1]
    ).astype(np.int64)
    if lines.identity.head.lstrip().startswith(b"{"):  # Zeek's JSON-lines form
        conns, numbers = json_chunk(data, file=lines.identity.path, first_line=lines.first_line)
        problems = []
    else:
        conns, numbers, problems = conn_chunk(
            data,
            header,
            file=lines.identity.path,
            first_line=lines.first_line,
            fields=READ_FIELDS,
            skip_bad=skip_bad,
        )
    return conns, numbers, starts[numbers - lines.first_line], problems


def score_rows(
    model,
    features: pd.DataFrame,
    lines: np.ndarray,
    ids: pd.DataFrame,
    file_id: str,
    run_id: str,
    keep_scored: bool,
):
    """(alerts Arrow table, number of rows, ScoredBatch or None) of one batch of features;
    ``ids`` (n rows, :func:`~trustshield.ingest.connections.connection_entities`) are the
    records' time stamps, connection ids, hosts, ports and protocol, kept as the flagged
    rows' ``entities``."""
    scored = score_batch(model, features)
    table = alerts_table(model, file_id, run_id, Batch(features, lines, entities=ids), scored)
    return table, len(features), (scored if keep_scored else None)


class _Done(concurrent.futures.Future):
    def __init__(self, value):
        super().__init__()
        self.set_result(value)


class _Retried:
    """A batch scored in the pool, submitted once more if its worker died under it (scoring
    is a pure function of the batch; a second loss is raised)."""

    def __init__(self, pool: WorkerPool, args: tuple):
        self.pool, self.args = pool, args
        self.future = pool.submit(score_rows, *args)

    def result(self):
        try:
            return self.future.result()
        except WorkerLost:
            return self.pool.submit(score_rows, *self.args).result()


class Scorer:
    """Scores batches in this process (``workers`` 0) or in a
    :class:`~trustshield.workers.pool.WorkerPool` built from ``files`` (single-
    threaded workers, replaced if one dies, never outliving this process); results come back
    in order."""

    def __init__(self, model, files: ModelFiles | None, workers: int):
        self.model, self.pool = model, None
        if workers > 0:
            self.pool = WorkerPool(files, workers, threads=1, env=ONE_THREAD, name="watch")
            try:
                self.pool.wait_ready()
            except BaseException:
                self.pool.close(wait=False)
                raise
        self.limit = max(1, 2 * workers)

    def submit(self, *args):
        if self.pool is None:
            return _Done(score_rows(self.model, *args))
        return _Retried(self.pool, args)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def watch(
    path: str | Path,
    store,
    *,
    model=None,
    model_dir: str | Path | None = None,
    batch_records: int = 20_000,
    batch_seconds: float = 2.0,
    once: bool = False,
    until_idle: float | None = None,
    on_error: str = "raise",
    workers: int = 0,
    drift_window: int = WINDOW,
    progress=None,
    stop=lambda: False,
    poll_s: float = 0.2,
) -> dict:
    """Follow the conn.log at ``path`` and score it into ``store`` until ``stop()`` is true,
    or (``once``) nothing more is there, or nothing came for ``until_idle`` seconds.

    ``model``: a TrainedModel, else loaded from ``model_dir`` (which ``workers`` > 0 needs:
    the folder is read once and each scoring process builds the model from those bytes;
    ``model``, when given too, must be the one in the folder). ``on_error`` "skip" stores
    bad rows in ``rejected_rows`` instead of stopping. Every ``drift_window`` records are
    compared with the model's drift reference; each window's drift event is stored in the
    transaction of the batch that completes it (a restart begins a new window). ``progress(figures)`` gets records, alerts, rejected,
    records_per_s, lag_bytes and lag_s after every commit, after which a DuckDB store's cache
    is trimmed to :data:`STORE_CACHE`. Returns the ``runs`` row with
    ``records`` and ``alerts`` of this run added."""
    if workers > 0 and model_dir is None:
        raise ValueError("scoring processes load the model from its folder: pass model_dir")
    files = None if model_dir is None else read_model_files(model_dir)
    if model is None:
        model = model_from_files(files)
    elif files is not None and files.manifest != model.manifest:
        raise ModelIntegrityError(
            f"{model_dir}: the model folder changed after the model was loaded from it; start again"
        )
    store.pseudonymiser()  # a store that pseudonymises refuses a writer without the key now
    scorer = Scorer(model, files, workers)
    try:
        run = _Watch(
            Path(path),
            store,
            model,
            scorer,
            batch_records,
            on_error == "skip",
            drift_window,
            progress,
        )
    except BaseException:
        scorer.close()
        raise
    store.record_model(model.manifest, model.encoder.describe_features())
    store.start_run(
        run_id=run.run_id,
        kind="watch",
        model_id=model.model_id,
        source_path=run.stream,
        source_sha256="",
    )
    status = "failed"
    try:
        run.loop(stop, once, until_idle, batch_seconds, poll_s)
        last = None if run.windows is None else run.windows.finish()
        store.drift.add(run.run_id, model.model_id, [] if last is None else [last])
        status = "complete"
    finally:
        run.scorer.close()
        run.follower.close()
        row = store.finish_run(run.run_id, status)
    return WatchSummary(row, run.records, run.alerts, tuple(run.follower.notices))


@dataclass(frozen=True)
class WatchSummary:
    """How one ``watch`` ended: its stored run (status, rows read, rejected rows), the
    records scored and alerts/reviews raised by this process, and notices for the user
    (e.g. a rotated or truncated log)."""

    run: RunSummary
    records: int
    alerts: int
    notices: tuple[str, ...]


def stream_name(path: str | Path, model_id: str) -> str:
    """The key of a watch's checkpoint and ledger rows: the followed path and the model, so
    another model watching the same log starts from its beginning."""
    return f"{Path(path).resolve()}@{model_id}"


class _Watch:
    """The state of one watch run: follower, current file, buffer, context, batches in flight."""

    def __init__(
        self,
        path: Path,
        store,
        model,
        scorer: Scorer,
        batch_records: int,
        skip_bad: bool,
        drift_window: int,
        progress,
    ):
        self.store, self.model, self.scorer, self.batch_records = (
            store,
            model,
            scorer,
            batch_records,
        )
        self.skip_bad, self.progress = skip_bad, progress
        self.windows = (
            None
            if model.drift_reference is None
            else DriftWindows(model.drift_reference, window=drift_window)
        )
        self.stream, self.run_id = stream_name(path, model.model_id), uuid.uuid4().hex[:16]
        self.records = self.alerts = self.rejected = 0
        self.started, self.clock = time.monotonic(), None
        self.buffer, self.buffered, self.since = [], 0, 0.0
        self.pending: deque = deque()
        self.identity, self.next_offset = None, -1
        self.header, self.context = new_header(), StreamContext.empty()
        self.follower = self._resume(path)

    def _resume(self, path: Path) -> Follower:
        cp = self.store.watch.checkpoint(self.stream)
        if cp is None:
            return Follower(path)
        follower = Follower(
            path,
            resume=Position(cp["dev"], cp["ino"], cp["file_id"], cp["byte_offset"], cp["line"]),
            seen=lambda h: self.store.watch.seen(self.stream, h),
        )
        identity = follower.identity
        if (
            identity is None
            or identity.head_sha256 != cp["file_id"]
            or follower.position()[0] != cp["byte_offset"]
        ):
            return follower
        head = identity.head[: identity.head.rfind(b"\n", 0, len(identity.head) - 1) + 1]
        conn_chunk(head, self.header, file=identity.path, first_line=1)
        self.context = StreamContext.empty(cp["context_clock"])
        data = follower.read_range(cp["context_offset"], cp["byte_offset"])
        context = Lines(identity, data, cp["context_offset"], cp["context_line"])
        conns, numbers, offsets, _ = parse_lines(context, self.header, skip_bad=True)
        self.context.features(conns, offsets, numbers)
        self.identity, self.next_offset = identity, cp["byte_offset"]
        return follower

    def loop(self, stop, once: bool, until_idle, batch_seconds: float, poll_s: float) -> None:
        idle_since = None
        try:
            while not stop():
                lines = self.follower.poll()
                if lines is not None:
                    self._take(lines)
                    idle_since = None
                    continue
                now = time.monotonic()
                if self.buffer and (
                    once or until_idle is not None or now - self.since >= batch_seconds
                ):
                    self._flush()
                self._commit(until=0)
                if once:
                    break
                idle_since = now if idle_since is None else idle_since
                if until_idle is not None and now - idle_since >= until_idle:
                    break
                time.sleep(poll_s)
            self._flush()
        finally:
            self._commit(until=0)

    def _take(self, lines: Lines) -> None:
        identity = lines.identity
        if (
            self.identity is None
            or lines.start != self.next_offset
            or (identity.dev, identity.ino, identity.head_sha256)
            != (self.identity.dev, self.identity.ino, self.identity.head_sha256)
        ):
            self._flush()  # another file (rotated in, or truncated): no context carried over
            self.identity, self.header, self.context = identity, new_header(), StreamContext.empty()
            start = self._checkpoint(lines.start, lines.first_line, 0)  # so a restart finds it
            self.pending.append((_Done((pa.table({}), 0, None)), None, start, [], None))
        if not self.buffer:
            self.since = time.monotonic()
        self.buffer.append(lines)
        self.buffered += lines.data.count(b"\n")
        self.next_offset = lines.end
        if self.buffered >= self.batch_records:
            self._flush()

    def _flush(self) -> None:
        if not self.buffer:
            return
        first = self.buffer[0]
        data = b"".join(b.data for b in self.buffer)
        self.buffer, self.buffered = [], 0
        ends = (
            np.flatnonzero(np.frombuffer(data, np.uint8) == 10)[
                self.batch_records - 1 :: self.batch_records
            ]
            + 1
        )
        start, line = first.start, first.first_line
        cuts = [0, *ends.tolist()] + ([] if len(ends) and ends[-1] == len(data) else [len(data)])
        for a, b in zip(cuts[:-1], cuts[1:]):
            self._batch(Lines(self.identity, data[a:b], start + int(a), line))
            line += self.batch_records

    def _batch(self, lines: Lines) -> None:
        conns, numbers, offsets, problems = parse_lines(lines, self.header, skip_bad=self.skip_bad)
        features = self.context.features(conns, offsets, numbers)
        if len(conns):
            self.clock = float(conns["ts"].max())
        next_line = lines.first_line + lines.data.count(b"\n")
        checkpoint = self._checkpoint(lines.end, next_line, len(features))
        file_id = self.identity.head_sha256
        ledger = {
            "file_id": file_id,
            "path": self.identity.path,
            "first_line": lines.first_line,
            "last_line": next_line - 1,
            "records": len(features),
            "rejected": len({p.line for p in problems}),
            "start_offset": lines.start,
            "end_offset": lines.end,
            "run_id": self.run_id,
        }
        ids = connection_entities(conns)
        future = (
            self.scorer.submit(
                features, numbers, ids, file_id, self.run_id, self.windows is not None
            )
            if len(features)
            else _Done((pa.table({}), 0, None))
        )
        self.pending.append((future, ledger, checkpoint, problems, numbers))
        self._commit(until=self.scorer.limit)

    def _checkpoint(self, offset: int, line: int, records: int) -> dict:
        """The checkpoint row for the current file read up to ``offset`` (next line ``line``)."""
        context = self.context.resume_point(offset, line)
        return {
            "file_id": self.identity.head_sha256,
            "path": self.identity.path,
            "dev": self.identity.dev,
            "ino": self.identity.ino,
            "byte_offset": offset,
            "line": line,
            "context_offset": context[0],
            "context_line": context[1],
            "context_clock": context[2],
            "records": records,
        }

    def _commit(self, until: int) -> None:
        """Commit the oldest batches in flight until at most ``until`` remain."""
        while len(self.pending) > until:
            future, ledger, checkpoint, problems, numbers = self.pending.popleft()
            table, n, scored = future.result()
            if ledger is None:  # the start of a file
                self.store.watch.commit(self.stream, checkpoint)
                continue
            ledger["alerts"] = table.num_rows
            with self.store.transaction():
                self.store.add_batch(self.run_id, table, problems, rows_read=n + ledger["rejected"])
                self.store.watch.commit(self.stream, checkpoint, ledger)
                if self.windows is not None and scored is not None:
                    completed = self.windows.add(
                        encoded_frame(self.model, scored), scored.decision.suspicion, numbers
                    )
                    self.store.drift.add(self.run_id, self.model.model_id, completed)
            self.store.db.trim_cache(STORE_CACHE)
            self.records, self.alerts = self.records + n, self.alerts + table.num_rows
            self.rejected += ledger["rejected"]
            if self.progress is not None:
                self.progress(self._figures(checkpoint))

    def _figures(self, checkpoint: dict) -> dict:
        seconds = max(time.monotonic() - self.started, 1e-9)
        try:
            size = Path(checkpoint["path"]).stat().st_size
        except OSError:
            size = checkpoint["byte_offset"]
        return {
            "records": self.records,
            "alerts": self.alerts,
            "rejected": self.rejected,
            "records_per_s": self.records / seconds,
            "lag_bytes": max(size - checkpoint["byte_offset"], 0),
            "lag_s": None if self.clock is None else max(time.time() - self.clock, 0.0),
        }
