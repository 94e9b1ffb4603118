"""EDGE: the alerts an export or a listing reads, chunk by chunk, with their filters.

:class:`AlertQuery` holds the filters (all optional, all must hold); :func:`read_chunks`
runs one SELECT over the store's ``alerts`` table in a stable order (event time, then
insert time, then the record's line in its input, then id) and hands back
:class:`StoredAlert` values ``chunk`` rows at a time,
read as Arrow record batches (``Database.arrow_batches``), so an export of any size holds
one chunk of Python objects at once. The SQL is portable (``?`` placeholders; the same statement runs on
DuckDB and PostgreSQL).

**Event time** is the record's own time, ``entities.ts`` (seconds since the Unix epoch,
UTC), when the input carried one; otherwise the insert time (``created_at``) stands in.
``since`` / ``until`` filter on that time: ``since <= time < until``.

The entity fields are read as typed columns by the database itself (``entities ->> 'src_ip'``
and so on; every value was checked when the store took it, see
:mod:`trustshield.store.entities`), and the largest contributions of a chunk are picked
with one NumPy call: exports of 100,000 alerts take seconds, not minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from trustshield.errors import DataError, SpecError
from trustshield.records import ENTITY_FIELDS
from trustshield.store.where import Where

#: the columns read, in order (the ``alerts`` table's, see trustshield.store.alerts)
COLUMNS = (
    "alert_id",
    "run_id",
    "model_id",
    "source_sha256",
    "line",
    "action",
    "suspicion",
    "category",
    "technique",
    "component",
    "label",
    "base",
    "attributions",
    "rationale",
    "created_at",
)
#: text columns where an empty value means none
OPTIONAL_TEXT = ("category", "technique")
#: the columns read as they are, in StoredAlert order, up to ``attributions``
PLAIN = COLUMNS[: COLUMNS.index("attributions")]
#: SQL type each entity field is read as
ENTITY_SQL = {float: "DOUBLE PRECISION", int: "BIGINT", str: "VARCHAR"}
ENTITY_COLUMNS = tuple(
    f"CAST(CAST(a.entities AS JSON) ->> '{name}' AS {ENTITY_SQL[kind]}) AS entity_{name}"
    for name, (kind, _) in ENTITY_FIELDS.items()
)
#: the record's own time as a timestamp, NULL when the stored entities have no ``ts``
EVENT_TS = "to_timestamp(CAST(CAST(a.entities AS JSON) ->> 'ts' AS DOUBLE PRECISION))"
#: how many of the largest contributions each alert carries in ``top``
TOP = 5
EVENT_TIME = f"COALESCE({EVENT_TS}, a.created_at)"
ACTIONS = ("alert", "review")
DEFAULT_CHUNK = 5_000
NOT_AWARE = "{name} must carry a time zone (e.g. 2024-05-01T00:00:00Z); got {value}"


@dataclass(frozen=True)
class AlertQuery:
    """Which alerts, every field optional; given ones must all hold.

    ``since`` / ``until``: timezone-aware datetimes bounding the event time
    (``since <= t < until``); ``min_suspicion``: suspicion at least this (higher = more
    suspicious); ``limit``: at most this many alerts (None: all)."""

    run_id: str | None = None
    model_id: str | None = None
    action: str | None = None
    category: str | None = None
    technique: str | None = None
    min_suspicion: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.action is not None and self.action not in ACTIONS:
            raise DataError(f"action must be one of {', '.join(ACTIONS)}; got {self.action!r}")
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise DataError(NOT_AWARE.format(name=name, value=value.isoformat()))
        if self.limit is not None and self.limit < 0:
            raise DataError(f"limit must be 0 or more; got {self.limit}")

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause (empty when no filter is set) and its parameters."""
        where = Where()
        where.equal(self, ("run_id", "model_id", "action", "category", "technique"), "a.")
        if self.min_suspicion is not None:
            where.add("a.suspicion >= ?", float(self.min_suspicion))
        if self.since is not None:
            where.add(f"{EVENT_TIME} >= ?", self.since)
        if self.until is not None:
            where.add(f"{EVENT_TIME} < ?", self.until)
        return where.sql(), where.params

    def select(self) -> tuple[str, list[Any]]:
        """The whole SELECT: :data:`COLUMNS` and the event time, in a stable order."""
        where, params = self.where()
        columns = ", ".join(
            [
                *(f"NULLIF(a.{c}, '') AS {c}" if c in OPTIONAL_TEXT else f"a.{c}" for c in COLUMNS),
                *ENTITY_COLUMNS,
            ]
        )
        sql = (
            f"SELECT {columns}, {EVENT_TS} AS event_time FROM alerts a{where}"
            f" ORDER BY {EVENT_TIME}, a.created_at, a.line, a.alert_id"
        )
        if self.limit is not None:
            sql += f" LIMIT {int(self.limit)}"
        return sql, params


@dataclass(frozen=True, eq=False)
class ModelInfo:
    """What an export needs of an alert's model: its feature names (model order) and the
    ATT&CK technique names its spec gives (id → name; empty when the spec is unknown).
    Compared and hashed by identity: a catalogue makes one per model."""

    model_id: str
    spec: str | None = None
    feature_names: tuple[str, ...] = ()
    technique_names: dict[str, str] = field(default_factory=dict)


class StoredAlert(NamedTuple):
    """One stored alert as read back (an immutable typed tuple: made 100,000 times per
    export, it must be cheap to make).

    ``suspicion``: higher = more suspicious; ``base + sum(attributions) == suspicion`` (the
    exact attributions, one per feature of ``model.feature_names``, a float array);
    ``top``: the
    :data:`TOP` largest contributions by magnitude as (feature, contribution), largest
    first; ``created_at``: when it was stored (UTC); ``event_time``: the record's own time
    (UTC), None when unknown; ``created_text`` / ``event_text``: the same as ISO 8601 text
    in UTC with microseconds and ``Z``; ``technique``: the ATT&CK technique id, None when none
    applies. The entity fields (see :class:`~trustshield.records.AlertEntities`) are None
    when unknown: ``ts`` seconds since the epoch, ``src_ip`` / ``dst_ip`` an address or its
    pseudonym (``hmac:…``), ports 0–65535, ``proto``, ``uid``, ``user``."""

    alert_id: str
    run_id: str | None
    model_id: str
    source_sha256: str | None
    line: int | None
    action: str
    suspicion: float
    category: str | None
    technique: str | None
    component: str | None
    label: str | None
    base: float | None
    attributions: Sequence[float]
    top: tuple[tuple[str, float], ...]
    rationale: str | None
    created_text: str
    event_text: str | None
    model: ModelInfo
    ts: float | None = None
    uid: str | None = None
    src_ip: str | None = None
    src_port: int | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    proto: str | None = None
    user: str | None = None

    @property
    def created_at(self) -> datetime:
        """When the alert was stored (UTC)."""
        return datetime.fromisoformat(self.created_text)

    @property
    def event_time(self) -> datetime | None:
        """The record's own time (UTC), None when unknown."""
        return None if self.event_text is None else datetime.fromisoformat(self.event_text)

    @property
    def timestamp(self) -> datetime:
        """The record's own time when known, else the insert time."""
        return datetime.fromisoformat(self.timestamp_text)

    @property
    def timestamp_text(self) -> str:
        """:attr:`timestamp` as ISO 8601 text."""
        return self.event_text if self.event_text is not None else self.created_text

    def entities(self) -> dict[str, Any]:
        """The known entity fields, in :data:`~trustshield.records.ENTITY_FIELDS` order."""
        return {
            name: getattr(self, name) for name in ENTITY_FIELDS if getattr(self, name) is not None
        }


def read_chunks(
    db, query: AlertQuery, *, chunk: int = DEFAULT_CHUNK
) -> Iterator[list[StoredAlert]]:
    """The alerts ``query`` selects from the store's database ``db``, ``chunk`` at a time,
    in event-time order."""
    models = ModelCatalogue(db)
    sql, params = query.select()
    for batch in db.arrow_batches(sql, params, chunk):
        if batch.num_rows:
            yield _alerts(batch, models)


def count(db, query: AlertQuery) -> int:
    """How many alerts ``query`` selects (before its ``limit``)."""
    where, params = query.where()
    return int(db.execute(f"SELECT count(*) FROM alerts a{where}", params).fetchone()[0])


class ModelCatalogue:
    """:class:`ModelInfo` of each model id. Every registered model is read when the
    catalogue is made (a handful of rows), so no query runs while the alerts' cursor is
    open: on DuckDB a second statement would end it."""

    def __init__(self, db):
        rows = db.execute("SELECT model_id, spec, features FROM models").fetchall()
        self.known: dict[str, ModelInfo] = {
            model_id: ModelInfo(
                model_id,
                spec,
                tuple(str(f["name"]) for f in json.loads(features or "[]")),
                _technique_names(spec),
            )
            for model_id, spec, features in rows
        }

    def __getitem__(self, model_id: str) -> ModelInfo:
        if model_id not in self.known:  # alerts of a model never registered here
            self.known[model_id] = ModelInfo(model_id)
        return self.known[model_id]


def _technique_names(spec: str | None) -> dict[str, str]:
    """ATT&CK technique names of a built-in spec (none for a spec that cannot be loaded
    here: a name is optional in every export)."""
    if not spec:
        return {}
    from trustshield.specs import load_spec

    try:
        return dict(load_spec(spec).technique_names)
    except (SpecError, OSError):
        return {}


def _alerts(batch, models: ModelCatalogue) -> list[StoredAlert]:
    """The alerts of one Arrow record batch (columns: :data:`COLUMNS`, the entity fields,
    the event time), the largest contributions of all picked at once."""
    names = batch.schema.names
    column = {name: batch.column(i) for i, name in enumerate(names)}
    matrix, values = _attribution_rows(column["attributions"])
    infos = [models[m] for m in column["model_id"].to_pylist()]  # fmt: skip
    tops = _tops(values, infos, matrix)
    plain = {name: column[name].to_pylist() for name in PLAIN}
    entity = [column[f"entity_{name}"].to_pylist() for name in ENTITY_FIELDS]
    return list(
        map(
            StoredAlert._make,
            zip(
                *(plain[name] for name in PLAIN),
                values,
                tops,
                column["rationale"].to_pylist(),
                _iso_texts(column["created_at"]),
                _iso_texts(column["event_time"]),
                infos,
                *entity,
            ),
        )
    )


def _attribution_rows(column) -> tuple:
    """(the (n, width) matrix when all rows have the same width, the usual case of one
    model, else None; one float array per alert, rows of that matrix when there is one)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.type == pa.null():  # PostgreSQL rows converted without a single value
        return None, [np.zeros(0) for _ in range(len(column))]
    widths = pc.list_value_length(column)
    if (
        column.null_count == 0
        and len(column)
        and pc.min_max(widths)["min"] == pc.min_max(widths)["max"]
    ):
        width = widths[0].as_py()
        matrix = column.flatten().to_numpy(zero_copy_only=False).reshape(len(column), width)
        return matrix, list(matrix)
    return None, [np.asarray(row or (), dtype=float) for row in column.to_pylist()]


def _tops(values: list, infos: list[ModelInfo], matrix=None) -> list[tuple[tuple[str, float], ...]]:
    """Per alert its :data:`TOP` largest contributions by magnitude, largest first, named by
    its model's features (``feature_J`` when the model's names are unknown)."""
    import numpy as np

    widths = {len(v) for v in values}
    if len(widths) > 1:  # alerts of models with different widths: one at a time
        return [t for v, m in zip(values, infos) for t in _tops([v], [m])]
    if not values or 0 in widths:
        return [() for _ in values]
    (width,) = widths
    matrix = np.vstack(values) if matrix is None else matrix
    k = min(TOP, width)
    magnitude = -np.abs(matrix)
    picked = np.argpartition(magnitude, k - 1, axis=1)[:, :k]
    order = np.argsort(np.take_along_axis(magnitude, picked, axis=1), axis=1, kind="stable")
    picked = np.take_along_axis(picked, order, axis=1)
    chosen = np.take_along_axis(matrix, picked, axis=1).tolist()
    named = {}
    for info in infos:
        if info.model_id not in named:
            known = len(info.feature_names) == width
            named[info.model_id] = (
                info.feature_names if known else tuple(f"feature_{j}" for j in range(width))
            )
    return [
        tuple(zip([named[info.model_id][j] for j in columns], contributions))
        for info, columns, contributions in zip(infos, picked.tolist(), chosen)
    ]


def _iso_texts(column) -> list[str | None]:
    """A timestamp column as ISO 8601 text in UTC with microseconds and ``Z`` (None for
    NULL), formatted by Arrow: the UTC wall time cast to text (``2024-05-01
    08:00:00.082488``, always six digits), ``T`` and ``Z`` put in."""
    import pyarrow as pa
    import pyarrow.compute as pc

    wall = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.timestamp("us")).cast(pa.string())
    text = pc.replace_substring(wall, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, pa.scalar("Z"), "").to_pylist()
