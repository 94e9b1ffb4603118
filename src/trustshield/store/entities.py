"""EDGE: alert entities into and out of the store: one encoder, one decoder, pseudonymised
by the store itself whatever wrote them.

Every writer of alerts (``POST /v1/score``, ``detect``, ``watch``, ``detect --engine
spark``) hands the store an ``entities`` column of :data:`~trustshield.records.ENTITY_TYPE`
(one struct per alert, see :class:`~trustshield.records.AlertEntities`), and every alert
enters the store through :meth:`AlertStore.insert_alerts
<trustshield.store.alerts.AlertStore.insert_alerts>`, which calls :func:`encode_column`:
each row is checked as an ``AlertEntities``, its identity fields are pseudonymised when
the store is configured for it, and it is stored as canonical JSON text
(:func:`trustshield.store.audit.canonical`: sorted keys, no whitespace; numbers as JSON
numbers, absent fields left out; NULL when nothing is known).

**Configured for it** means the store's ``service_settings`` row ``pseudonymise`` is true
(set by ``serve --pseudonymise``, ``detect --pseudonymise``, ``watch --pseudonymise`` or
``PUT /v1/settings``, each audited as ``config.change``). It is a property of the store,
so every process writing to it honours it; the key is ``$TRUSTSHIELD_PSEUDONYM_KEY`` of the
writing process, and a writer without it is refused (ConfigError) before anything is
written.

:func:`decode` reads what any version wrote: this encoding, the spaced JSON written before
it, numbers given as text (``"80"``, ``"1.5"``), NULL or empty text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from trustshield.errors import DataError, StoreError
from trustshield.privacy import IDENTITY_FIELDS, Pseudonymiser
from trustshield.records import (
    ENTITY_FIELDS,
    ENTITY_RANGES,
    ENTITY_TYPE,
    AlertEntities,
    entity_value,
)
from trustshield.plain_json import canonical

SETTING = "pseudonymise"
NOT_TYPED = (
    "alerts column 'entities' must be the typed entity column {expected}; got {got} "
    "(build it with trustshield.pipeline.detect.entity_column)"
)
UNREADABLE = "alert {alert_id}: stored entities {text!r} cannot be read: {why}"


def pseudonymising(store) -> bool:
    """Whether ``store`` is configured to pseudonymise identities."""
    return store.settings.get(SETTING, False) is True


def store_pseudonymiser(store) -> Pseudonymiser | None:
    """The pseudonymiser this process must use on ``store``: None when the store does not
    pseudonymise; ConfigError (naming the variable) when it does and the key is missing."""
    return Pseudonymiser.from_env() if pseudonymising(store) else None


def switch_on(store) -> bool:
    """Configure ``store`` to pseudonymise from now on (audited as ``config.change`` by the
    store's actor); refused without a usable key. True when it was off before."""
    Pseudonymiser.from_env()
    return store.settings.set(SETTING, True)


#: the entity fields the ``alerts`` table also keeps as columns, so that alerts can be
#: searched and ordered in SQL (``ts`` as ``event_time``); identities as stored (pseudonyms
#: in a store that pseudonymises)
SEARCH_COLUMNS = {
    "event_time": pa.timestamp("us", tz="UTC"),
    "src_ip": pa.string(),
    "dst_ip": pa.string(),
    "src_port": pa.int32(),
    "dst_port": pa.int32(),
}


@dataclass(frozen=True)
class StoredEntities:
    """What the store writes of a writer's entity column: ``text`` (``rows`` canonical JSON
    texts or NULLs) and ``columns``, the :data:`SEARCH_COLUMNS` (each ``rows`` values,
    NULL where not known)."""

    text: pa.Array
    columns: dict[str, pa.Array]


def encode_column(
    column: pa.Array | pa.ChunkedArray | None, rows: int, pseudonymiser: Pseudonymiser | None
) -> pa.Array:
    """The stored ``entities`` text of a writer's entity column (see :func:`encode_entities`)."""
    return encode_entities(column, rows, pseudonymiser).text


def encode_entities(
    column: pa.Array | pa.ChunkedArray | None, rows: int, pseudonymiser: Pseudonymiser | None
) -> StoredEntities:
    """The stored ``entities`` (``rows`` strings or NULLs) of a writer's entity column
    (None: no entities known): per row, :func:`canonical` of ``AlertEntities(...).as_dict()``
    with identities pseudonymised, NULL when no field is set; DataError naming the field
    for a bad value. With it, the searchable :data:`SEARCH_COLUMNS` (``event_time`` is the
    record's own time, ``ts``, as a UTC timestamp).

    Built column by column, as fast as the stream needs it (every record of a stream may
    be an alert): each distinct text value of a field is checked with
    :func:`~trustshield.records.entity_value` (the record's own check), pseudonymised and
    encoded once; numbers are checked against the record's ranges on the whole column."""
    empty = {name: pa.nulls(rows, kind) for name, kind in SEARCH_COLUMNS.items()}
    if column is None:
        return StoredEntities(pa.nulls(rows, pa.string()), empty)
    if column.type != ENTITY_TYPE:
        raise StoreError(NOT_TYPED.format(expected=ENTITY_TYPE, got=column.type))
    struct = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    children = dict(zip(ENTITY_FIELDS, struct.flatten()))  # a NULL struct: NULL fields
    present = [name for name in sorted(ENTITY_FIELDS) if children[name].null_count < len(struct)]
    pieces, searchable = [], dict(empty)
    for name in present:  # sorted: canonical key order
        fragments, standard = _fragments(name, children[name], pseudonymiser)
        pieces.append(fragments)
        if name == "ts":
            micros = pc.cast(pc.round(pc.multiply(standard, 1e6)), pa.int64())
            searchable["event_time"] = micros.cast(SEARCH_COLUMNS["event_time"])
        elif name in SEARCH_COLUMNS:
            searchable[name] = standard.cast(SEARCH_COLUMNS[name])
    if not pieces:
        return StoredEntities(pa.nulls(rows, pa.string()), empty)
    texts = [",".join(p for p in row if p) for row in zip(*pieces)]
    text = pa.array(["{" + text + "}" if text else None for text in texts], pa.string())
    return StoredEntities(text, searchable)


def _fragments(
    name: str, values: pa.Array, pseudonymiser: Pseudonymiser | None
) -> tuple[list[str], pa.Array]:
    """(per row ``"name":value`` as canonical JSON writes it ("" where the field is NULL),
    the values in standard form, pseudonymised when they are identities)."""
    kind = ENTITY_FIELDS[name][0]
    if kind is not str:  # numbers: the range of entity_value, checked on the whole column
        low, high = ENTITY_RANGES[kind]
        inside = pc.and_(pc.greater_equal(values, low), pc.less_equal(values, high))
        if not pc.all(inside).as_py():  # NaN is outside; NULLs are skipped
            entity_value(name, values.filter(pc.invert(inside))[0].as_py())  # raises
        # what json writes for a number: float.__repr__ / int.__repr__, without its call
        shown = ["" if v is None else f'"{name}":{v!r}' for v in values.to_pylist()]
        return shown, values
    distinct = pc.unique(values)
    shown, standard = [], []
    for value in distinct.to_pylist():  # text: each distinct value checked, encoded once
        if value is not None:
            value = entity_value(name, value)
            if pseudonymiser is not None and name in IDENTITY_FIELDS:
                value = pseudonymiser.pseudonymise(value, field=name)
        shown.append("" if value is None else f'"{name}":' + canonical(value))
        standard.append(value)
    where = pc.index_in(values, value_set=distinct, skip_nulls=False)
    return (
        np.asarray(shown, dtype=object)[where.to_numpy()].tolist(),
        pc.take(pa.array(standard, pa.string()), where),
    )


def decode(text: str | None, alert_id: str = "?") -> AlertEntities | None:
    """The entities of a stored alert (None when none were kept); StoreError naming the
    alert when the stored text is not entities."""
    if text is None or not str(text).strip():
        return None
    try:
        found = json.loads(text)
        if not isinstance(found, dict):
            raise DataError("expected a JSON object")
        found = {name: _number(name, value) for name, value in found.items()}
        record = AlertEntities.from_mapping(found)
    except (ValueError, DataError) as exc:
        raise StoreError(
            UNREADABLE.format(alert_id=alert_id, text=str(text)[:200], why=exc)
        ) from None
    return None if record.empty else record


def _number(name: str, value):
    """Numbers that older stores kept as text, as numbers."""
    kind = ENTITY_FIELDS.get(name, (str,))[0]
    if isinstance(value, str) and kind is not str:
        return kind(value)  # ValueError when it is not a number: reported by decode
    return value
