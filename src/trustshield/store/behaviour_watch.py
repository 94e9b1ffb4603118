"""EDGE: the state of ``trustshield watch`` with a behaviour model, committed with its ledger.

``behaviour_watch_state`` holds one row per stream (``PATH@MODEL_ID``): the plain-JSON
state of its :class:`~trustshield.incidents.streaming.BehaviourStream` (look-back counts,
closed windows, open and closed flagged periods, records read). ``behaviour_watch_parts``
holds the rows and flows kept for open periods, as Arrow IPC streams (no pickle), one row
per commit that kept some (``seq`` in commit order); when periods close and their incidents
are stored the parts are rewritten as one. :meth:`BehaviourWatchState.save` writes both
in the current transaction, the one of the batch's ledger row, checkpoint and incidents,
so after a crash all of them agree.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pyarrow as pa

SCHEMA = """
CREATE TABLE IF NOT EXISTS behaviour_watch_state (
    stream VARCHAR PRIMARY KEY, state VARCHAR, updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS behaviour_watch_parts (
    stream VARCHAR, seq BIGINT, rows_ipc {blob}, flows_ipc {blob});
"""


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(bytes(data))).read_all()


class BehaviourWatchState:
    """Behaviour watch state of one :class:`~trustshield.store.AlertStore`."""

    def __init__(self, store):
        self.store = store
        blob = "BYTEA" if store.db.dialect == "postgres" else "BLOB"
        for statement in SCHEMA.format(blob=blob).split(";"):
            if statement.strip():
                store.db.execute(statement)

    def load(self, stream: str) -> tuple[dict | None, list[tuple[pa.Table, pa.Table]]]:
        """The committed state of ``stream`` (None: never committed) and its kept parts."""
        db = self.store.db
        row = db.execute(
            "SELECT state FROM behaviour_watch_state WHERE stream = ?", [stream]
        ).fetchone()
        parts = db.execute(
            "SELECT rows_ipc, flows_ipc FROM behaviour_watch_parts WHERE stream = ? ORDER BY seq",
            [stream],
        ).fetchall()
        state = None if row is None else json.loads(row[0])
        return state, [(from_ipc(r), from_ipc(f)) for r, f in parts]

    def save(
        self, stream: str, state: dict, parts: list[tuple[pa.Table, pa.Table]], *, replace: bool
    ) -> None:
        """Set the state of ``stream`` and append ``parts`` (``replace``: instead of the
        stored ones), in the current transaction if any, else in one of their own."""
        db = self.store.db
        with self.store.transaction():
            db.execute("DELETE FROM behaviour_watch_state WHERE stream = ?", [stream])
            db.execute(
                "INSERT INTO behaviour_watch_state VALUES (?, ?, ?)",
                [stream, json.dumps(state), datetime.now(timezone.utc)],
            )
            if replace:
                db.execute("DELETE FROM behaviour_watch_parts WHERE stream = ?", [stream])
                start = 0
            else:
                got = db.execute(
                    "SELECT max(seq) FROM behaviour_watch_parts WHERE stream = ?", [stream]
                ).fetchone()
                start = 0 if got is None or got[0] is None else int(got[0]) + 1
            for k, (rows, flows) in enumerate(parts):
                db.execute(
                    "INSERT INTO behaviour_watch_parts VALUES (?, ?, ?, ?)",
                    [stream, start + k, to_ipc(rows), to_ipc(flows)],
                )
