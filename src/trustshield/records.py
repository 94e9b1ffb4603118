"""Frozen records passed between stages."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from trustshield.errors import DataError
from trustshield.privacy import IDENTITY_FIELDS, identity_value, is_pseudonym

if TYPE_CHECKING:
    from trustshield.privacy import Pseudonymiser

ALERT, REVIEW, ALLOW = "alert", "review", "allow"
#: authentication outcomes: let the user in, ask for a second factor, refuse
ACCEPT, STEP_UP, DENY = "accept", "step_up", "deny"
STATUSES = ("pass", "fail", "not_evidenced")


@dataclass(frozen=True)
class Decision:
    """What a policy decided for each record: ``actions`` (n,) of alert/review/allow."""

    actions: np.ndarray
    suspicion: np.ndarray

    @property
    def alerted(self) -> np.ndarray:
        return np.asarray(self.actions == ALERT)

    @property
    def flagged(self) -> np.ndarray:
        """Rows an analyst sees: alerts and reviews."""
        return np.asarray(self.actions != ALLOW)


@dataclass(frozen=True)
class AuthDecision:
    """What an authentication policy decided for one attempt (a sequence of samples).

    ``action`` is accept / step_up / deny; ``reason`` says why in one sentence;
    ``scores`` holds each sample's suspicion (None where a sample was missing, malformed
    or could not be scored). ``accept_threshold`` and ``deny_threshold`` are the
    thresholds applied (None when no policy could be loaded).
    """

    action: str
    reason: str
    scores: tuple[float | None, ...] = ()
    accept_threshold: float | None = None
    deny_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.action not in (ACCEPT, STEP_UP, DENY):
            raise ValueError(
                f"AuthDecision action must be one of {(ACCEPT, STEP_UP, DENY)}, got {self.action!r}"
            )

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "scores": list(self.scores),
            "accept_threshold": self.accept_threshold,
            "deny_threshold": self.deny_threshold,
        }


@dataclass(frozen=True)
class RunSummary:
    """One run of ``detect``, ``watch`` or the Spark engine as the store records it: what
    it read (rows, rejected rows), what it added (alerts, reviews) and how it ended
    (``status``: running, complete or failed). Times are timezone-aware datetimes (None
    while running)."""

    run_id: str
    kind: str
    model_id: str
    source_path: str
    source_sha256: str
    started_at: Any
    finished_at: Any
    status: str
    rows_read: int = 0
    alerts_added: int = 0
    reviews_added: int = 0
    rejected_rows: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> RunSummary:
        """From a ``runs`` row (a mapping of its columns)."""
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Evidence:
    """One measured check: what was measured, the figure, the bar, and the verdict."""

    check: str
    metric: str
    value: float | None
    threshold: float | None
    status: str
    principles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Evidence status must be one of {STATUSES}, got {self.status!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "metric": self.metric,
            "value": self.value,
            "threshold": self.threshold,
            "status": self.status,
            "principles": list(self.principles),
        }


#: an alert's entity fields: name → (Python type, Arrow type); see :class:`AlertEntities`
ENTITY_FIELDS = {
    "ts": (float, pa.float64()),
    "uid": (str, pa.string()),
    "src_ip": (str, pa.string()),
    "src_port": (int, pa.int32()),
    "dst_ip": (str, pa.string()),
    "dst_port": (int, pa.int32()),
    "proto": (str, pa.string()),
    "user": (str, pa.string()),
}
#: the column alert writers hand to the store: one struct of :data:`ENTITY_FIELDS` per alert
ENTITY_TYPE = pa.struct([(name, kind) for name, (_, kind) in ENTITY_FIELDS.items()])
MAX_ENTITY_TEXT = 256
#: the last second of the year 9999, the latest time Python's datetime can show
MAX_TS = 253_402_300_799.0
#: the range of each numeric entity kind: seconds since the epoch, port numbers
ENTITY_RANGES = {float: (0.0, MAX_TS), int: (0, 65_535)}
ENTITY_EXPECTED = {
    float: f"seconds since the Unix epoch: a number from 0 to {MAX_TS:.0f} (year 9999)",
    int: "a port number: a whole number from 0 to 65535",
    str: f"non-empty text of at most {MAX_ENTITY_TEXT} characters",
}
UNKNOWN_ENTITY = "no entity field {field!r}: expected one of {expected}"
BAD_ENTITY = "entity field {field}: expected {expected}; got {value!r}"


@dataclass(frozen=True)
class AlertEntities:
    """Who and what one alert is about; every field is optional (None: not known).

    ``ts``: when the connection started, seconds since the Unix epoch (UTC), a float.
    ``uid``: the sensor's connection id (Zeek's ``uid``), to find the connection in its logs.
    ``src_ip`` / ``dst_ip``: originator and responder address (IPv4 or IPv6 text in
    :mod:`ipaddress`'s form), or its pseudonym (``hmac:`` + 32 hex digits).
    ``src_port`` / ``dst_port``: their ports, 0–65535 (ICMP: message type and code).
    ``proto``: the transport protocol (``tcp``, ``udp``, ``icmp``, …).
    ``user``: the user name a caller of ``POST /v1/score`` named, or its pseudonym.

    The identities are :data:`~trustshield.privacy.IDENTITY_FIELDS` (``src_ip``, ``dst_ip``,
    ``user``): a store configured to pseudonymise replaces them with keyed pseudonyms
    (:mod:`trustshield.store.entities`). ``ts``, ports, ``proto`` and ``uid`` are not
    identities: they name a connection, not a host or a person, and an analyst needs them to
    find it (``uid`` is a random id; the sensor's logs that resolve it hold the addresses).
    Values are checked and put in standard form when the record is made; a bad one is a
    DataError naming the field, what was expected and what came.
    """

    ts: float | None = None
    uid: str | None = None
    src_ip: str | None = None
    src_port: int | None = None
    dst_ip: str | None = None
    dst_port: int | None = None
    proto: str | None = None
    user: str | None = None

    def __post_init__(self) -> None:
        for name in ENTITY_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, entity_value(name, value))

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> AlertEntities:
        """The record of ``mapping`` (field → value; None values are left unset);
        DataError for a field that is not an entity field."""
        for name in mapping:
            if name not in ENTITY_FIELDS:
                raise DataError(
                    UNKNOWN_ENTITY.format(field=name, expected=", ".join(ENTITY_FIELDS))
                )
        return cls(**mapping)

    @property
    def empty(self) -> bool:
        return all(getattr(self, name) is None for name in ENTITY_FIELDS)

    def as_dict(self) -> dict[str, Any]:
        """The set fields, in :data:`ENTITY_FIELDS` order, with their typed values."""
        return {
            name: getattr(self, name) for name in ENTITY_FIELDS if getattr(self, name) is not None
        }

    def pseudonymised(self, pseudonymiser: Pseudonymiser) -> AlertEntities:
        """The same record with every identity field replaced by its keyed pseudonym."""
        pseudonyms: dict[str, Any] = {
            name: pseudonymiser.pseudonymise(getattr(self, name), field=name)
            for name in IDENTITY_FIELDS
            if getattr(self, name) is not None
        }
        return dataclasses.replace(self, **pseudonyms)


def entity_value(field: str, value: Any) -> Any:
    """``value`` of entity ``field`` checked and in standard form (see :class:`AlertEntities`);
    DataError naming the field, what it expects and the value otherwise."""
    kind = ENTITY_FIELDS[field][0]
    if field in IDENTITY_FIELDS and not is_pseudonym(value):
        value = identity_value(field, value)
    exact = type(value) is kind  # the usual case, without the abstract-class checks
    if kind is str:
        if exact and 0 < len(value) <= MAX_ENTITY_TEXT and not value.isspace():
            return value
    elif exact or (
        isinstance(value, numbers.Real if kind is float else numbers.Integral)
        and not isinstance(value, bool)
    ):
        low, high = ENTITY_RANGES[kind]
        if low <= value <= high:  # False for NaN; infinities are out of range
            return kind(value)
    raise DataError(
        BAD_ENTITY.format(
            field=field,
            expected=ENTITY_EXPECTED[kind],
            value=value if not isinstance(value, str) else value[:80],
        )
    )
