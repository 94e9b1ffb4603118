"""EDGE: the embedded alert store (DuckDB file).

Tables: ``models``, ``runs``, ``alerts`` (with exact attributions and rationale) and
``rejected_rows``. Each batch is written in one transaction, so an interrupted run leaves
whole batches only; alert ids are derived from model, input file and line, so running the
same detection twice adds no duplicate alerts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from trustshield.errors import StoreError
from trustshield.ingest.validate import RowProblem

DEFAULT_STORE = "trustshield.duckdb"
#: DuckDB's buffer pool; written batches are flushed to the file instead of held in memory
MEMORY_LIMIT = os.environ.get("TRUSTSHIELD_STORE_MEMORY", "512MB")

SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    model_id VARCHAR PRIMARY KEY, created_at TIMESTAMPTZ, spec VARCHAR, detector VARCHAR,
    features VARCHAR, manifest VARCHAR);
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, kind VARCHAR, model_id VARCHAR, source_path VARCHAR,
    source_sha256 VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR,
    rows_read BIGINT DEFAULT 0, alerts_added BIGINT DEFAULT 0, reviews_added BIGINT DEFAULT 0,
    rejected_rows BIGINT DEFAULT 0);
CREATE TABLE IF NOT EXISTS alerts (
    alert_id VARCHAR PRIMARY KEY, run_id VARCHAR, model_id VARCHAR, source_sha256 VARCHAR,
    line BIGINT, action VARCHAR, suspicion DOUBLE, category VARCHAR, technique VARCHAR,
    component VARCHAR, label VARCHAR, base DOUBLE, attributions DOUBLE[], feature_values DOUBLE[],
    rationale VARCHAR, created_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS rejected_rows (
    run_id VARCHAR, file VARCHAR, line BIGINT, "column" VARCHAR, value VARCHAR,
    expected VARCHAR);
"""


def default_store_path() -> Path:
    return Path(os.environ.get("TRUSTSHIELD_STORE", DEFAULT_STORE))


def alert_id(model_id: str, source_sha256: str, line: int) -> str:
    """Deterministic id: the same record scored by the same model keeps its id."""
    return f"{model_id[:12]}-{source_sha256[:12]}-{line}"


class AlertStore:
    """DuckDB-backed store; open with a path, use as a context manager."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect(str(self.path), config={"memory_limit": MEMORY_LIMIT})
        self.db.execute(SCHEMA)

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def record_model(self, manifest: dict, features: Sequence[dict]) -> None:
        """Register a model; ``features`` lists {name, type, categories} in model order, so
        stored encoded values (alerts.feature_values) can be read back as written."""
        self.db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?, ?, ?, ?)",
                        [manifest["model_id"], manifest["created_at"], manifest["spec"],
                         manifest["detector"], json.dumps(list(features)),
                         json.dumps(manifest, sort_keys=True)])

    def start_run(self, *, run_id: str, kind: str, model_id: str, source_path: str,
                  source_sha256: str) -> None:
        self.db.execute("INSERT INTO runs (run_id, kind, model_id, source_path, source_sha256,"
                        " started_at, status) VALUES (?, ?, ?, ?, ?, ?, 'running')",
                        [run_id, kind, model_id, source_path, source_sha256, _now()])

    def add_batch(self, run_id: str, alerts: pa.Table, rejected: Sequence[RowProblem],
                  rows_read: int) -> int:
        """Insert one batch of alerts and rejected rows atomically; return alerts added."""
        self.db.execute("BEGIN TRANSACTION")
        try:
            before = self._count("alerts")
            if alerts.num_rows:
                self.db.register("incoming_alerts", alerts)
                self.db.execute("INSERT OR IGNORE INTO alerts BY NAME SELECT * FROM incoming_alerts")
                self.db.unregister("incoming_alerts")
            added = self._count("alerts") - before
            if rejected:
                self.db.executemany("INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, ?)",
                                    [[run_id, p.file, p.line, p.column, p.value, p.expected]
                                     for p in rejected])
            self.db.execute(
                "UPDATE runs SET rows_read = rows_read + ?, alerts_added = alerts_added + ?,"
                " rejected_rows = rejected_rows + ? WHERE run_id = ?",
                [rows_read, added, len({(p.file, p.line) for p in rejected}), run_id])
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return added

    def finish_run(self, run_id: str, status: str) -> dict:
        self.db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                        [status, _now(), run_id])
        return self.run(run_id)

    def run(self, run_id: str) -> dict:
        rows = self.db.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]).fetchdf()
        if rows.empty:
            raise StoreError(f"no run with id {run_id!r} in {self.path}")
        return rows.iloc[0].to_dict()

    def alert(self, alert_id: str) -> dict:
        """One alert with its model's features ({name, type, categories}); StoreError when
        unknown."""
        rows = self.db.execute(
            "SELECT a.*, m.features FROM alerts a JOIN models m USING (model_id)"
            " WHERE alert_id = ?", [alert_id]).fetchdf()
        if rows.empty:
            raise StoreError(f"no alert with id {alert_id!r} in {self.path}")
        record = rows.iloc[0].to_dict()
        record["features"] = json.loads(record["features"])
        return record

    def alerts(self, *, run_id: str | None = None, limit: int | None = None) -> pd.DataFrame:
        sql = "SELECT * FROM alerts" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY line"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return self.db.execute(sql, [run_id] if run_id else []).fetchdf()

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _now() -> datetime:
    return datetime.now(timezone.utc)
