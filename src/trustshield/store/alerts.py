"""EDGE: the alert store, on a DuckDB file (default) or a PostgreSQL database.

Tables: ``models`` (the local model registry), ``runs``, ``alerts`` (with exact
attributions, rationale and ``entities``: canonical JSON of the alert's
:class:`~trustshield.records.AlertEntities`, identities pseudonymised when the store is
configured for it, see :mod:`trustshield.store.entities`; NULL when none are known; and
the searchable ``event_time`` (the record's own time), ``src_ip``, ``dst_ip``,
``src_port``, ``dst_port`` derived from them, indexed; stores written before them gain
them, filled from ``entities``, when opened),
``rejected_rows``, ``service_settings`` (:mod:`trustshield.store.settings`), the audit
chain (``audit_events`` and ``audit_head``, see :mod:`trustshield.store.audit`) and
red-team runs (:mod:`trustshield.store.redteam`) and incidents
(:mod:`trustshield.store.incidents`, ``store.incidents``). The SQL is portable
(:mod:`trustshield.store.database`): the same statements run on both. Every alert enters
through :meth:`AlertStore.insert_alerts`. Each batch is written in one transaction, so an
interrupted run leaves whole batches only; alert ids are derived from model, input file
and line, so running the same detection twice adds no duplicate alerts. Alerts of the
review band enter the review queue (:mod:`trustshield.store.reviews`, ``store.reviews``)
with the batch that stores them, whoever writes it. Registering a model
and finishing a run each append an audit event in the same transaction as the change,
attributed to the store's ``actor``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from trustshield.config import operator_name
from trustshield.errors import StoreError
from trustshield.ingest.validate import RowProblem
from trustshield.records import REVIEW, RunSummary
from trustshield.store.audit import AuditLog
from trustshield.store.database import DuckDatabase, connect, frame, is_url, records
from trustshield.store.drift_events import DriftEvents
from trustshield.store.incidents import IncidentTable
from trustshield.store.entities import (
    SEARCH_COLUMNS,
    decode,
    encode_entities,
    store_pseudonymiser,
)
from trustshield.store.redteam import RedTeamRuns
from trustshield.store.reviews import ReviewQueue
from trustshield.store.settings import SettingsTable
from trustshield.store.watch_state import WatchState

DEFAULT_STORE = "trustshield.duckdb"
#: what the store derives from a writer's entity column (a writer may give ``event_time``:
#: its values are kept where set)
ENTITY_COLUMNS = ("entities", *SEARCH_COLUMNS)
CHUNK = 5_000  # ids per IN (...) list

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
    created_at TIMESTAMPTZ, entities VARCHAR, event_time TIMESTAMPTZ, src_ip VARCHAR,
    dst_ip VARCHAR, src_port INTEGER, dst_port INTEGER);
CREATE TABLE IF NOT EXISTS rejected_rows (
    run_id VARCHAR, file VARCHAR, line BIGINT, "column" VARCHAR, value VARCHAR,
    expected VARCHAR);
"""
#: the tables a store has from its first opening: a database without them holds no store
STORE_TABLES = (*re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA), "audit_events")
#: stores written before ``entities`` existed gain the column when opened
MIGRATIONS = ("ALTER TABLE alerts ADD COLUMN IF NOT EXISTS entities VARCHAR",)
#: the entity fields kept as columns (see :data:`trustshield.store.entities.SEARCH_COLUMNS`),
#: added to older stores and filled from their ``entities`` when the store is opened
SEARCH_SQL_TYPES = {
    "event_time": "TIMESTAMPTZ",
    "src_ip": "VARCHAR",
    "dst_ip": "VARCHAR",
    "src_port": "INTEGER",
    "dst_port": "INTEGER",
}
#: what the alert list orders and searches by (PostgreSQL: see _add_search_columns)
INDEXES = {
    "alerts_event_time": "event_time DESC NULLS LAST",
    "alerts_suspicion": "suspicion DESC NULLS LAST",
    "alerts_created_at": "created_at DESC",
    "alerts_src_ip": "src_ip",
    "alerts_dst_ip": "dst_ip",
}


def default_store_path() -> str | Path:
    """``$TRUSTSHIELD_STORE`` (a PostgreSQL URL as text, else a file Path), by default
    ``./trustshield.duckdb``."""
    target = os.environ.get("TRUSTSHIELD_STORE", DEFAULT_STORE)
    return target if is_url(target) else Path(target)


def missing_store_tables(url: str) -> list[str]:
    """The :data:`STORE_TABLES` the PostgreSQL database at ``url`` lacks (all of them when it
    holds no store), found without creating anything."""
    db = connect(url)
    try:
        present = db.tables()
    finally:
        db.close()
    return [table for table in STORE_TABLES if table not in present]


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
        self._add_search_columns()
        self.reviews = ReviewQueue(self)
        self.audit = AuditLog(self.db)
        self.settings = SettingsTable(self)
        self.redteam = RedTeamRuns(self)
        self.drift = DriftEvents(self)
        self.watch = WatchState(self)
        self.incidents = IncidentTable(self)

    def _add_search_columns(self) -> None:
        """Give a store written before them the searchable entity columns, filled from each
        alert's stored ``entities`` (one transaction: all or nothing), and the indexes."""
        present = self.db.columns("alerts")
        missing = [c for c in SEARCH_SQL_TYPES if c not in present]
        if missing:
            try:
                with self.transaction():
                    self._add_columns(missing)
                    self.db.execute(backfill_sql(self.db.dialect, missing))
            except self.db.errors:  # some stored entities are not JSON: row by row
                with self.transaction():
                    self._add_columns(missing)
                    self._backfill_rows(missing)
        if self.db.dialect != "postgres":  # DuckDB prunes by its zone maps: an index
            return  # made 100,000 inserts 20 % slower and no page of the list faster
        indexed = set(self.db.columns("alerts"))
        for name, column in INDEXES.items():
            if column.split()[0] in indexed:
                self.db.execute(f"CREATE INDEX IF NOT EXISTS {name} ON alerts ({column})")

    def _add_columns(self, names: Sequence[str]) -> None:
        for name in names:
            self.db.execute(f"ALTER TABLE alerts ADD COLUMN {name} {SEARCH_SQL_TYPES[name]}")

    def _backfill_rows(self, names: Sequence[str]) -> None:
        """Fill ``names`` of each alert whose stored entities can be read (the others, which
        :meth:`alert` reports as unreadable, stay NULL)."""
        rows = self.db.execute(
            "SELECT alert_id, entities FROM alerts WHERE entities IS NOT NULL"
        ).fetchall()
        updates = []
        for alert, text in rows:
            try:
                entities = decode(text, alert)
            except StoreError:
                continue
            if entities is None:
                continue
            values = {
                "event_time": None
                if entities.ts is None
                else datetime.fromtimestamp(entities.ts, timezone.utc),
                **{n: getattr(entities, n) for n in ("src_ip", "dst_ip", "src_port", "dst_port")},
            }
            updates.append([values[n] for n in names] + [alert])
        sets = ", ".join(f"{n} = ?" for n in names)
        self.db.executemany(f"UPDATE alerts SET {sets} WHERE alert_id = ?", updates)

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

    def insert_alerts(self, alerts: pa.Table, *, skip_existing: bool = False) -> Written:
        """The one way alerts enter the store. ``alerts`` has columns of the ``alerts``
        table, by name; its ``entities``, when present, is the writer's typed column
        (:data:`~trustshield.records.ENTITY_TYPE`), stored as canonical JSON with identities
        pseudonymised when the store is configured for it (without the key: ConfigError,
        nothing written), and kept in the searchable columns ``event_time`` (the record's
        own time, its ``ts``), ``src_ip``, ``dst_ip``, ``src_port`` and ``dst_port``.
        Alerts of the review band (action ``review``) that were not stored before enter the
        review queue in the same transaction. ``skip_existing`` skips alerts already stored.
        Returns how many alerts and review items were added."""
        with self.transaction():
            column = alerts.column("entities") if "entities" in alerts.column_names else None
            stored = encode_entities(column, alerts.num_rows, self.pseudonymiser())
            given = alerts.column("event_time") if "event_time" in alerts.column_names else None
            alerts = alerts.drop_columns([c for c in ENTITY_COLUMNS if c in alerts.column_names])
            alerts = alerts.append_column("entities", stored.text)
            for name, values in stored.columns.items():
                if name == "event_time" and given is not None:  # the writer's, else ``ts``
                    values = pc.coalesce(given.cast(values.type), values)
                alerts = alerts.append_column(name, values)
            if not alerts.num_rows:
                return Written(0, 0)
            reviews = self._new_reviews(alerts) if skip_existing else self._reviews_of(alerts)
            before = self._count("alerts") if skip_existing else 0
            self.db.insert_arrow("alerts", alerts, ignore_conflicts=skip_existing)
            added = self._count("alerts") - before if skip_existing else alerts.num_rows
            for model_id, ids in reviews.items():
                self.reviews.enqueue_abstained(ids, model_id)
        return Written(added, sum(len(ids) for ids in reviews.values()))

    @staticmethod
    def _reviews_of(alerts: pa.Table) -> dict[str, list[str]]:
        """{model id: ids} of the review-band alerts of ``alerts``."""
        picked = alerts.filter(pc.equal(alerts.column("action"), REVIEW))
        found: dict[str, list[str]] = {}
        for model_id, alert in zip(
            picked.column("model_id").to_pylist(), picked.column("alert_id").to_pylist()
        ):
            found.setdefault(model_id, []).append(alert)
        return found

    def _new_reviews(self, alerts: pa.Table) -> dict[str, list[str]]:
        """:meth:`_reviews_of` without the alerts already stored (a re-run queues nothing)."""
        found = self._reviews_of(alerts)
        ids = [a for group in found.values() for a in group]
        stored: set[str] = set()
        for start in range(0, len(ids), CHUNK):
            part = ids[start : start + CHUNK]
            marks = ", ".join("?" * len(part))
            stored.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT alert_id FROM alerts WHERE alert_id IN ({marks})", part
                ).fetchall()
            )
        return {m: [a for a in group if a not in stored] for m, group in found.items()}

    def add_batch(
        self, run_id: str, alerts: pa.Table, rejected: Sequence[RowProblem], rows_read: int
    ) -> int:
        """Insert one batch of alerts (:meth:`insert_alerts`; alerts already stored are
        skipped, review-band ones queued) and rejected rows (those not recorded before for
        the same file, line, column and value) atomically; return alerts added. The run
        counts the rows read, alerts added, reviews queued and rows rejected."""
        with self.transaction():
            written = self.insert_alerts(alerts, skip_existing=True)
            new = self._new_problems(rejected)
            if new:
                self.db.executemany(
                    "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, ?)",
                    [[run_id, p.file, p.line, p.column, p.value, p.expected] for p in new],
                )
            self.db.execute(
                "UPDATE runs SET rows_read = rows_read + ?, alerts_added = alerts_added + ?,"
                " reviews_added = reviews_added + ?, rejected_rows = rejected_rows + ?"
                " WHERE run_id = ?",
                [
                    rows_read,
                    written.alerts,
                    written.reviews,
                    len({(p.file, p.line) for p in rejected}),
                    run_id,
                ],
            )
        return written.alerts

    def _new_problems(self, rejected: Sequence[RowProblem]) -> list[RowProblem]:
        """``rejected`` without the problems already recorded (same file, line, column and
        value): a re-run over the same file records nothing twice."""
        new: list[RowProblem] = []
        for file in dict.fromkeys(str(p.file) for p in rejected):
            mine = [p for p in rejected if str(p.file) == file]
            lines = [int(p.line) for p in mine]
            stored = {
                (int(line), str(column), value)
                for line, column, value in self.db.execute(
                    'SELECT line, "column", value FROM rejected_rows'
                    " WHERE file = ? AND line BETWEEN ? AND ?",
                    [file, min(lines), max(lines)],
                ).fetchall()
            }
            new += [p for p in mine if (int(p.line), str(p.column), p.value) not in stored]
        return new

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


@dataclass(frozen=True)
class Written:
    """What one :meth:`AlertStore.insert_alerts` added: alerts, and review-queue items."""

    alerts: int
    reviews: int


def backfill_sql(dialect: str, columns: Sequence[str]) -> str:
    """The UPDATE filling the searchable ``columns`` of stored alerts from their
    ``entities`` JSON (any encoding the store ever wrote; numbers possibly as text)."""
    field = (
        "json_extract_string(entities, '$.{name}')"
        if dialect == "duckdb"
        else "(CAST(entities AS json) ->> '{name}')"
    )
    values = {
        "event_time": f"to_timestamp(CAST({field.format(name='ts')} AS DOUBLE PRECISION))",
        "src_ip": field.format(name="src_ip"),
        "dst_ip": field.format(name="dst_ip"),
        "src_port": f"CAST({field.format(name='src_port')} AS INTEGER)",
        "dst_port": f"CAST({field.format(name='dst_port')} AS INTEGER)",
    }
    sets = ", ".join(f"{name} = {values[name]}" for name in columns)
    return f"UPDATE alerts SET {sets} WHERE entities IS NOT NULL AND entities <> ''"


def _now() -> datetime:
    return datetime.now(timezone.utc)
