"""A conn log to incidents in bounded memory: read in blocks, windows closed as they pass.

:func:`detect_log` reads a Zeek TSV conn.log block by block
(:func:`~trustshield.ingest.zeek_columns.iter_conn_columns`) into a
:class:`~trustshield.incidents.streaming.BehaviourStream`, so memory holds the open
windows and the flows of flagged hosts, not the whole log; the incidents are those of
``detect_incidents`` on the whole log. A log the block reader cannot take (JSON lines, a
CSV conversion, the space-separated labelled variant, a bad record) or whose records come
more than ``lateness_s`` out of time order is read whole by the strict reader instead
(``read_conn_table``, whose errors name file, line and field), with the same result.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trustshield.incidents.grouping import Incident
from trustshield.incidents.model import BehaviourDetection, detect_incidents
from trustshield.incidents.streaming import BehaviourStream, LateRecords

#: records buffered before closing the windows the stream has passed
CHUNK_RECORDS = 500_000


@dataclass(frozen=True)
class DetectedLog:
    """How one log was read: ``records`` with a time, ``incidents`` found, ``streamed``
    (False: read whole, ``reason`` says why)."""

    records: int
    incidents: int
    streamed: bool
    reason: str = ""


def detect_log(
    model: BehaviourDetection,
    path: str | Path,
    on_incidents: Callable[[tuple[Incident, ...], pd.DataFrame], None],
    *,
    chunk_records: int = CHUNK_RECORDS,
    lateness_s: float | None = None,
    block_bytes: int = 1 << 24,
) -> DetectedLog:
    """Call ``on_incidents(incidents, flows)`` for the incidents of the conn log at
    ``path`` under ``model``, a batch of hosts at a time (``flows``: every flow of those
    hosts from their first flagged window on, enough for ``incident_evidence``); batches
    are in host order, each sorted by first_seen. ``block_bytes``: the file is read that
    much at a time."""
    from trustshield.features.behaviour import behaviour_table
    from trustshield.ingest.zeek_chunks import read_conn_table
    from trustshield.ingest.zeek_columns import NotColumnar, iter_conn_columns

    try:
        stream = BehaviourStream(model, chunk_records=chunk_records, lateness_s=lateness_s)
        for chunk in prefetch(iter_conn_columns(path, block_bytes=block_bytes)):
            stream.add(chunk)
            del chunk
        stream.close(float("inf"))
    except (NotColumnar, LateRecords) as exc:
        reason = str(exc)
    else:
        found = 0
        for part in stream.host_batches():
            incidents = part.incidents(stream.window_s, model.persist, stream.gap_s)
            found += len(incidents)
            on_incidents(incidents, part.flows)
        return DetectedLog(stream.records, found, True)
    del stream
    flows = read_conn_table(path)
    incidents = detect_incidents(model, flows, behaviour_table(flows, window_s=model.window_s))
    on_incidents(incidents, flows)
    records = int(pd.to_numeric(flows["ts"], errors="coerce").notna().sum())
    return DetectedLog(records, len(incidents), False, reason)


def prefetch(items: Iterable, depth: int = 2) -> Iterator:
    """The items of ``items``, produced on a background thread up to ``depth`` ahead (the
    next blocks of a log are parsed, by pyarrow without the GIL, while this thread builds
    the windows of the last ones). An exception of ``items`` is raised here, where its
    item would have come; leaving the loop early stops the thread."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(value) -> bool:
        while not stop.is_set():
            try:
                box.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((done, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((done, exc))

    worker = threading.Thread(target=produce, name="trustshield-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
            del item
    finally:
        stop.set()
        worker.join()
