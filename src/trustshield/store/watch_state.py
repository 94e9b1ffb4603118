"""EDGE: what ``trustshield watch`` has committed: a checkpoint per stream and a batch ledger.

``watch_checkpoints`` holds one row per stream (``PATH@MODEL_ID``: the absolute path being
followed and the model scoring it, see :func:`trustshield.pipeline.watch.stream_name`): the file
being read (``file_id``: sha256 of its head, see :mod:`trustshield.ingest.follow`; device
and inode), the byte offset and next line number up to which every record is committed,
and where the feature context starts (``context_offset``, ``context_line``: the first
record of the carried tail; ``context_clock``: the log clock, s since the epoch, just before
it), and ``records`` scored by the batch that set it. ``watch_batches`` is the ledger: one row per committed batch with the file, its first
and last line, the records scored, the rows rejected and the alerts written. Both are
written by :meth:`WatchState.commit` inside the transaction of the batch's alerts, so after
any crash the checkpoint, the ledger and the alerts agree.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pandas as pd

from trustshield.store.database import frame, records

SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_checkpoints (
    stream VARCHAR PRIMARY KEY, file_id VARCHAR, path VARCHAR, dev BIGINT, ino BIGINT,
    byte_offset BIGINT, line BIGINT, context_offset BIGINT, context_line BIGINT,
    context_clock DOUBLE PRECISION, records BIGINT, updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS watch_batches (
    stream VARCHAR, file_id VARCHAR, path VARCHAR, first_line BIGINT, last_line BIGINT,
    records BIGINT, rejected BIGINT, alerts BIGINT, start_offset BIGINT, end_offset BIGINT,
    run_id VARCHAR, committed_at TIMESTAMPTZ);
"""
CHECKPOINT_COLUMNS = (
    "file_id",
    "path",
    "dev",
    "ino",
    "byte_offset",
    "line",
    "context_offset",
    "context_line",
    "context_clock",
    "records",
)
LEDGER_COLUMNS = (
    "file_id",
    "path",
    "first_line",
    "last_line",
    "records",
    "rejected",
    "alerts",
    "start_offset",
    "end_offset",
    "run_id",
)


class WatchState:
    """Checkpoints and ledger of one :class:`~trustshield.store.AlertStore` (``store.watch``)."""

    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA)

    def checkpoint(self, stream: str) -> dict | None:
        """The committed checkpoint of ``stream`` (columns :data:`CHECKPOINT_COLUMNS`), or None."""
        rows = records(
            self.store.db.execute("SELECT * FROM watch_checkpoints WHERE stream = ?", [stream])
        )
        return rows[0] if rows else None

    def commit(self, stream: str, checkpoint: dict, batch: dict | None = None) -> None:
        """Replace the checkpoint of ``stream`` and add the ``batch`` ledger row (keys
        :data:`LEDGER_COLUMNS`), in the current transaction if any, else in one of their own."""
        db, now = self.store.db, datetime.now(timezone.utc)
        with self.store.transaction():
            db.execute("DELETE FROM watch_checkpoints WHERE stream = ?", [stream])
            db.execute(
                f"INSERT INTO watch_checkpoints VALUES ({', '.join('?' * 12)})",
                [stream, *(checkpoint[c] for c in CHECKPOINT_COLUMNS), now],
            )
            if batch is not None:
                db.execute(
                    f"INSERT INTO watch_batches VALUES ({', '.join('?' * 12)})",
                    [stream, *(batch[c] for c in LEDGER_COLUMNS), now],
                )

    def seen(self, stream: str, file_id: str) -> bool:
        """True when the ledger of ``stream`` has a batch of the file ``file_id``."""
        return bool(
            self.store.db.execute(
                "SELECT count(*) FROM watch_batches WHERE stream = ? AND file_id = ?",
                [stream, file_id],
            ).fetchall()[0][0]
        )

    def ledger(self, stream: str | None = None) -> pd.DataFrame:
        """Ledger rows (of ``stream``, else all), in commit order."""
        sql = "SELECT * FROM watch_batches" + (" WHERE stream = ?" if stream else "")
        return frame(
            self.store.db.execute(
                sql + " ORDER BY committed_at, file_id, first_line", [stream] if stream else []
            )
        )
