"""EDGE: drift events, one row per window of records a detection run compared with its
model's drift reference (:mod:`trustshield.pipeline.drift_windows`).

``drift_events`` columns: ``event_id`` (``MODEL-SOURCE-FIRST-LAST``: the first 12 hex digits
of the model id and of the input's sha256, and the window's first and last line, for a run
over a file; ``RUN-INDEX`` for a run without one, such as ``watch``), ``run_id`` (the run
that first wrote it), ``model_id``,
``window_index`` (0-based, per run), ``first_line`` and ``last_line`` (the window's first
and last record, as lines of the input file), ``n_records``, ``max_feature_psi`` (largest
population stability index over the features), ``output_psi`` (of the suspicion),
``alert_rate_change`` (window minus training alert rate, a share; NULL when unknown),
``level`` ("none", "moderate" or "major": the worst of any feature and the suspicion),
``top_features`` (JSON: the five features that moved most, with PSI, KS and level),
``result`` (JSON: the full comparison, every feature's buckets and shares) and
``created_at``.

Events are written inside the caller's transaction (``detect`` writes them with the batch
that completed the window); each ``major`` event appends a ``drift.detected`` audit event
in the same transaction. An event already stored is not written again: re-running
``detect`` with the same model on the same file adds no drift event and no audit event.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone

from trustshield.drift.summary import drift_summary
from trustshield.plain_json import canonical, plain
from trustshield.store.database import records

SCHEMA = """
CREATE TABLE IF NOT EXISTS drift_events (
    event_id VARCHAR PRIMARY KEY, run_id VARCHAR, model_id VARCHAR, window_index BIGINT,
    first_line BIGINT, last_line BIGINT, n_records BIGINT, max_feature_psi DOUBLE PRECISION,
    output_psi DOUBLE PRECISION, alert_rate_change DOUBLE PRECISION, level VARCHAR,
    top_features VARCHAR, result VARCHAR, created_at TIMESTAMPTZ);
"""
COLUMNS = (
    "event_id",
    "run_id",
    "model_id",
    "window_index",
    "first_line",
    "last_line",
    "n_records",
    "max_feature_psi",
    "output_psi",
    "alert_rate_change",
    "level",
    "top_features",
    "result",
    "created_at",
)
AUDITED_LEVEL = "major"
#: columns left out of the audit event (the id is its subject; the full result stays here)
SKIPPED_IN_AUDIT = ("event_id", "result", "created_at", "top_features")


class DriftEvents:
    """Drift events of one :class:`~trustshield.store.AlertStore` (``store.drift``)."""

    def __init__(self, store):
        self.store = store
        store.db.execute(SCHEMA)

    def add(
        self, run_id: str, model_id: str, windows: Sequence, *, source_sha256: str = ""
    ) -> list[dict]:
        """Write one event per window (:class:`~trustshield.pipeline.drift_windows.WindowDrift`)
        in the current transaction (a new one if none is open), except the windows already
        stored (same model, same ``source_sha256``, same lines); return the rows written."""
        rows = [self._row(run_id, model_id, w, source_sha256) for w in windows]
        if not rows:
            return []
        placeholders = ", ".join("?" * len(COLUMNS))
        with self.store.transaction():
            rows = self._new(rows)
            if not rows:
                return []
            self.store.db.executemany(
                f"INSERT INTO drift_events ({', '.join(COLUMNS)}) VALUES ({placeholders})",
                [[row[c] for c in COLUMNS] for row in rows],
            )
            for row in rows:
                if row["level"] == AUDITED_LEVEL:
                    details = {k: row[k] for k in COLUMNS if k not in SKIPPED_IN_AUDIT}
                    self.store.record_event(
                        "drift.detected",
                        row["event_id"],
                        {**details, "top_features": json.loads(row["top_features"])},
                    )
        return rows

    def events(self, *, model_id: str | None = None, run_id: str | None = None) -> list[dict]:
        """Events of a model and/or a run (all when neither is given), in run order then
        window order; ``top_features`` and ``result`` parsed."""
        where = [(c, v) for c, v in (("model_id", model_id), ("run_id", run_id)) if v is not None]
        sql = "SELECT * FROM drift_events" + (
            " WHERE " + " AND ".join(f"{c} = ?" for c, _ in where) if where else ""
        )
        rows = records(
            self.store.db.execute(
                sql + " ORDER BY created_at, run_id, window_index", [v for _, v in where]
            )
        )
        for row in rows:
            row["top_features"], row["result"] = (
                json.loads(row["top_features"]),
                json.loads(row["result"]),
            )
        return rows

    def windows(
        self, *, model_id: str | None = None, level: str | None = None, limit: int = 200
    ) -> tuple[list[dict], int]:
        """(the latest ``limit`` events, newest run first and in window order within a run,
        without the full ``result``; ``top_features`` parsed, how many match), of a model
        and/or at a level when given."""
        where = [(c, v) for c, v in (("model_id", model_id), ("level", level)) if v is not None]
        clause = (" WHERE " + " AND ".join(f"{c} = ?" for c, _ in where)) if where else ""
        params = [v for _, v in where]
        total = self.store.db.execute(
            f"SELECT count(*) FROM drift_events{clause}", params
        ).fetchone()[0]
        shown = [c for c in COLUMNS if c != "result"]
        rows = records(
            self.store.db.execute(
                f"SELECT {', '.join(shown)} FROM drift_events{clause}"
                f" ORDER BY created_at DESC, run_id, window_index LIMIT {int(limit)}",
                params,
            )
        )
        for row in rows:
            row["top_features"] = json.loads(row["top_features"])
        return rows, int(total)

    def _new(self, rows: list[dict]) -> list[dict]:
        """``rows`` whose event ids are not stored yet."""
        ids = [row["event_id"] for row in rows]
        marks = ", ".join("?" * len(ids))
        stored = {
            found
            for (found,) in self.store.db.execute(
                f"SELECT event_id FROM drift_events WHERE event_id IN ({marks})", ids
            ).fetchall()
        }
        return [row for row in rows if row["event_id"] not in stored]

    @staticmethod
    def _row(run_id: str, model_id: str, window, source_sha256: str = "") -> dict:
        summary = plain(drift_summary(window))
        event_id = (
            f"{model_id[:12]}-{source_sha256[:12]}-{int(window.first_line)}-{int(window.last_line)}"
            if source_sha256
            else f"{run_id}-{window.index}"
        )
        return {
            "event_id": event_id,
            "run_id": run_id,
            "model_id": model_id,
            "window_index": int(window.index),
            "first_line": int(window.first_line),
            "last_line": int(window.last_line),
            "n_records": int(window.n_window),
            "max_feature_psi": summary["max_feature_psi"],
            "output_psi": summary["output_psi"],
            "alert_rate_change": summary["alert_rate_change"],
            "level": summary["level"],
            "top_features": canonical(summary["top_features"]),
            "result": canonical(plain(window.to_dict())),
            "created_at": datetime.now(timezone.utc),
        }
