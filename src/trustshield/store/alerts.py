"""EDGE: the alert store, on a DuckDB file (default) or a PostgreSQL database.

Tables: ``models`` (the local model registry), ``runs``, ``alerts`` (with exact
attributions, rationale and ``entities``: canonical JSON of the alert's
:class:`~trustshield.records.AlertEntities`, identities pseudonymised when the store is
configured for it, see :mod:`trustshield.store.entities`; NULL when none are known),
``rejected_rows``, ``service_settings`` (:mod:`trustshield.store.settings`), the audit
chain (``audit_events`` and ``audit_head``, see :mod:`trustshield.store.audit`) and
red-team runs (:mod:`trustshield.store.redteam`). The SQL is portable
(:mod:`trustshield.store.database`): the same statements run on both. Every alert enters
through :meth:`AlertStore.insert_alerts`. Each batch is written in one transaction, so an
interrupted run leaves whole batches only; alert ids are derived from model, input file
and line, so running the same detection twice adds no duplicate alerts. Registering a model
and finishing a run each append an audit event in the same transaction as the change,
attributed to the store's ``actor``.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa

from trustshield.config import operator_name
from trustshield.errors import StoreError
from trustshield.ingest.validate import RowProblem
from trustshield.records import RunSummary
from trustshield.store.audit import AuditLog
from trustshield.store.database import DuckDatabase, connect, frame, is_url, records
from trustshield.store.drift_events import DriftEvents
from trustshield.store.entities import decode, encode_column, store_pseudonymiser
from trustshield.store.redteam import RedTeamRuns
from trustshield.store.settings import SettingsTable
from trustshield.store.watch_state import WatchState

DEFAULT_STORE = "trustshield.duckdb"

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
    line BIGINT, action VARCHAR, suspicion DOUBLE PRECISION, category VARCHAR,
    technique VARCHAR, component VARCHAR, label VARCHAR, base DOUBLE PRECISION,
    attributions DOUBLE PRECISION[], feature_values DOUBLE PRECISION[], rationale VARCHAR,
    created_at TIMESTAMPTZ, entities VARCHAR);
CREATE TABLE IF NOT EXISTS rejected_rows (
    run_id VARCHAR, file VARCHAR, line BIGINT, "column" VARCHAR, value VARCHAR,
    expected VARCHAR);
"""
#: stores written before ``entities`` existed gain the column when opened
MIGRATIONS = ("ALTER TABLE alerts ADD COLUMN IF NOT EXISTS entities VARCHAR",)


def default_store_path() -> str | Path:
    """``$TRUSTSHIELD_STORE`` (a PostgreSQL URL as text, else a file Path), by default
    ``./trustshield.duckdb``."""
    target = os.environ.get("TRUSTSHIELD_STORE", DEFAULT_STORE)
    return target if is_url(target) else Path(target)


def alert_id(model_id: str, source_sha256: str, line: int) -> str:
    """Deterministic id: the same record scored by the same model keeps its id."""
    return f"{model_id[:12]}-{source_sha256[:12]}-{line}"


class AlertStore:
    """The store at ``target``: a DuckDB file path (default :func:`default_store_path`) or a
    PostgreSQL URL; use as a context manager.

    ``actor`` is who the audit events of this session name (default: the operator, see
    :func:`trustshield.config.operator_name`). ``path`` is the file's Path, or for
    PostgreSQL the URL without its password. ``db`` is the
    :class:`~trustshield.store.database.Database` (``db.dialect``: "duckdb" or "postgres").
    """

    def __init__(self, target: str | Path | None = None, *, actor: str | None = None):
        target = default_store_path() if target is None else target
        self.actor = actor or operator_name()
        self.db = connect(target)
        self.path = self.db.path if isinstance(self.db, DuckDatabase) else self.db.target
        self.db.execute(SCHEMA)
        for statement in MIGRATIONS:
            self.db.execute(statement)
        self._in_transaction = False
        self.audit = AuditLog(self.db)
        self.settings = SettingsTable(self)
        self.redteam = RedTeamRuns(self)
        self.drift = DriftEvents(self)
        self.watch = WatchState(self)

    def __enter__(self) -> AlertStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything inside commits together or not at all; nested uses join the outer one."""
        if self._in_transaction:
            yield
            return
        self.db.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False

    def record_event(self, action: str, subject: str, details: dict) -> dict:
        """Append one audit event by this store's actor (inside the current transaction,
        if any)."""
        with self.transaction():
            return self.audit.append(
                actor=self.actor, action=action, subject=subject, details=details
            )

    def record_model(self, manifest: dict, features: Sequence[dict]) -> bool:
        """Register a model in the local registry; True when it was not there before (the
        registration is then audited as ``model.register``). ``features`` lists {name,
        type, categories} in model order, so stored encoded values (alerts.feature_values,
        red-team examples) can be read back as written."""
        with self.transaction():
            if self.model(manifest["model_id"]) is not None:
                return False
            self.db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?, ?)",
                [
                    manifest["model_id"],
                    manifest["created_at"],
                    manifest["spec"],
                    manifest["detector"],
                    json.dumps(list(features)),
                    json.dumps(manifest, sort_keys=True),
                ],
            )
            self.record_event(
                "model.register",
                manifest["model_id"],
                {
                    "spec": manifest["spec"],
                    "detector": manifest["detector"],
                    "created_at": manifest["created_at"],
                    "files": manifest.get("files", {}),
                },
            )
        return True

    def model(self, model_id: str) -> dict | None:
        """The registered model (manifest and features parsed), or None."""
        rows = records(self.db.execute("SELECT * FROM models WHERE model_id = ?", [model_id]))
        if not rows:
            return None
        record = rows[0]
        record["manifest"], record["features"] = (
            json.loads(record["manifest"]),
            json.loads(record["features"]),
        )
        return record

    def models(self) -> pd.DataFrame:
        return frame(
            self.db.execute(
                "SELECT model_id, created_at, spec, detector FROM models"
                " ORDER BY created_at, model_id"
            )
        )

    def start_run(
        self, *, run_id: str, kind: str, model_id: str, source_path: str, source_sha256: str
    ) -> None:
        """Record a run as running; AuditChainError first when the audit chain could not record
        its end (a head that does not seal the chain: nothing is written then)."""
        self.audit.require_sealed("the run was not started")
        self.db.execute(
            "INSERT INTO runs (run_id, kind, model_id, source_path, source_sha256,"
            " started_at, status) VALUES (?, ?, ?, ?, ?, ?, 'running')",
            [run_id, kind, model_id, source_path, source_sha256, _now()],
        )

    def pseudonymiser(self):
        """The pseudonymiser writers must apply to this store (None when it does not
        pseudonymise); ConfigError when it does and ``$TRUSTSHIELD_PSEUDONYM_KEY`` is missing."""
        return store_pseudonymiser(self)

    def insert_alerts(self, alerts: pa.Table, *, skip_existing: bool = False) -> None:
        """The one way alerts enter the store. ``alerts`` has columns of the ``alerts``
        table, by name; its ``entities``, when present, is the writer's typed column
        (:data:`~trustshield.records.ENTITY_TYPE`), stored as canonical JSON with identities
        pseudonymised when the store is configured for it (without the key: ConfigError,
        nothing written). ``skip_existing`` skips alerts already stored."""
        with self.transaction():
            column = alerts.column("entities") if "entities" in alerts.column_names else None
            stored = encode_column(column, alerts.num_rows, self.pseudonymiser())
            if column is not None:
                alerts = alerts.drop_columns(["entities"])
            if alerts.num_rows:
                self.db.insert_arrow(
                    "alerts",
                    alerts.append_column("entities", stored),
                    ignore_conflicts=skip_existing,
                )

    def add_batch(
        self, run_id: str, alerts: pa.Table, rejected: Sequence[RowProblem], rows_read: int
    ) -> int:
        """Insert one batch of alerts (:meth:`insert_alerts`; alerts already stored are
        skipped) and rejected rows atomically; return alerts added."""
        with self.transaction():
            before = self._count("alerts")
            self.insert_alerts(alerts, skip_existing=True)
            added = self._count("alerts") - before
            if rejected:
                self.db.executemany(
                    "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, ?)",
                    [[run_id, p.file, p.line, p.column, p.value, p.expected] for p in rejected],
                )
            self.db.execute(
                "UPDATE runs SET rows_read = rows_read + ?, alerts_added = alerts_added + ?,"
                " rejected_rows = rejected_rows + ? WHERE run_id = ?",
                [rows_read, added, len({(p.file, p.line) for p in rejected}), run_id],
            )
        return added

    def finish_run(self, run_id: str, status: str) -> RunSummary:
        """Close a run and audit it (``KIND.run``, e.g. ``detect.run``) in one transaction."""
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET status = ?, finished_at = ? WHERE run_id = ?",
                [status, _now(), run_id],
            )
            run = self.run(run_id)
            self.record_event(
                f"{run.kind}.run",
                run_id,
                {k: v for k, v in run.as_dict().items() if k not in ("run_id", "kind")},
            )
        return run

    def run(self, run_id: str) -> RunSummary:
        rows = records(self.db.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))
        if not rows:
            raise StoreError(f"no run with id {run_id!r} in {self.path}")
        return RunSummary.from_row(rows[0])

    def alert(self, alert_id: str) -> dict:
        """One alert with its model's features ({name, type, categories}) and its
        ``entities`` as an :class:`~trustshield.records.AlertEntities` (None when none are
        known); StoreError when unknown."""
        rows = records(
            self.db.execute(
                "SELECT a.*, m.features FROM alerts a JOIN models m ON m.model_id = a.model_id"
                " WHERE a.alert_id = ?",
                [alert_id],
            )
        )
        if not rows:
            raise StoreError(f"no alert with id {alert_id!r} in {self.path}")
        record = rows[0]
        record["features"] = json.loads(record["features"])
        record["entities"] = decode(record.get("entities"), alert_id)
        return record

    def alerts(self, *, run_id: str | None = None, limit: int | None = None) -> pd.DataFrame:
        sql = "SELECT * FROM alerts" + (" WHERE run_id = ?" if run_id else "") + " ORDER BY line"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return frame(self.db.execute(sql, [run_id] if run_id else []))

    def _count(self, table: str) -> int:
        return int(self.db.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _now() -> datetime:
    return datetime.now(timezone.utc)
