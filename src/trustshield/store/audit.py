"""EDGE: the audit log, a hash chain with an authenticated head, in the store's database.

Every state change appends one event: who (``actor``), when (``at``, UTC), what
(``action``, e.g. ``detect.run``, ``model.register``, ``redteam.run``), on what
(``subject``) and the particulars (``details``, canonical JSON). Each event's ``hash`` is
the sha256 of the previous event's hash followed by the canonical JSON of the event::

    hash = sha256(prev_hash + canonical({"seq", "at", "actor", "action", "subject", "details"}))

where ``at`` is ISO-8601 UTC with microseconds and the first event's ``prev_hash`` is 64
zeros. Canonical JSON: keys sorted, no whitespace, UTF-8, no NaN. Changing, removing or
reordering any stored event breaks the chain from that event on.

A chain alone cannot show that its last events were deleted, or that a forged event was
appended (anyone can compute sha256). So the one-row table ``audit_head`` (seq, hash, mac)
records the last event, updated in the same transaction as each append, with::

    mac = HMAC-SHA256(key, f"{seq}:{hash}")   key: $TRUSTSHIELD_AUDIT_KEY (UTF-8 bytes)

or plain ``sha256(f"{seq}:{hash}")`` when no key is set; then tail tampering is only
detectable by someone who does not also rewrite the head, which :class:`ChainCheck` warns
about. Set the key before the first event: a head written without it fails a keyed check.
A store from before the head existed gets one for its current last event when opened.

:meth:`AuditLog.check` walks the chain, then compares its end with the head and the head
with its mac; :meth:`AuditLog.verify` returns just the first broken ``seq``. The caller
appends inside the transaction that makes the change, so the change and its record commit
or roll back together. On PostgreSQL, appends lock the head row, so concurrent writers
queue instead of forking the chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from json.encoder import encode_basestring

import numpy as np

GENESIS = "0" * 64
KEY_ENV = "TRUSTSHIELD_AUDIT_KEY"
FETCH = 250

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq BIGINT PRIMARY KEY, "at" TIMESTAMPTZ, actor VARCHAR, action VARCHAR, subject VARCHAR,
    details VARCHAR, prev_hash VARCHAR, hash VARCHAR);
CREATE TABLE IF NOT EXISTS audit_head (seq BIGINT, hash VARCHAR, mac VARCHAR);
"""
#: ``at`` read as UTC wall time (a plain timestamp converts to Python much faster)
COLUMNS = ('seq, ("at" AT TIME ZONE \'UTC\') AS "at", actor, action, subject, details,'
           ' prev_hash, hash')
#: the head rows first (part 0; mac in the details column), then the events: one statement,
#: so one snapshot of both on a busy server
CHAIN = ('SELECT 0 AS part, seq, NULL AS "at", NULL AS actor, NULL AS action, NULL AS subject,'
         ' mac AS details, NULL AS prev_hash, hash FROM audit_head'
         f' UNION ALL SELECT 1 AS part, {COLUMNS} FROM audit_events ORDER BY part, seq')

UNKEYED = (f"{KEY_ENV} is not set: the chain head is a plain sha256, so deleting the last "
           "events or appending forged ones is only detectable with a key")
BAD_SEQ = "expected event seq {expected}, found seq {seq}: events are missing or renumbered"
BAD_LINK = "event {seq} does not link to the hash of the event before it"
BAD_HASH = "event {seq} does not match its hash: its content was changed"
NO_HEAD = "the chain head (audit_head) holds {rows} rows, expected exactly 1"
MISSING_TAIL = "events after seq {last} are missing: the chain head records seq {head}"
EXTRA_TAIL = "events after seq {head} were added without the chain head"
OTHER_TAIL = "the last event (seq {last}) is not the one the chain head records"
BAD_MAC = ("the chain head fails authentication: it was rewritten, or {key_env} differs from "
           "the key it was written with")


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of :meth:`AuditLog.check`: ``first_broken`` is the seq of the first event the
    chain cannot vouch for (None when ``ok``), ``reason`` says why, ``keyed`` whether the
    head was checked with ``$TRUSTSHIELD_AUDIT_KEY``."""

    ok: bool
    events: int
    first_broken: int | None
    reason: str | None
    keyed: bool

    @property
    def warning(self) -> str | None:
        return None if self.keyed else UNKEYED


def audit_key() -> bytes | None:
    """``$TRUSTSHIELD_AUDIT_KEY`` as bytes, or None when unset or blank."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode("utf-8") if value.strip() else None


def head_mac(seq: int, digest: str, key: bytes | None) -> str:
    """The head's authenticator of ``seq:hash`` (HMAC-SHA256 under ``key``, else sha256)."""
    message = f"{int(seq)}:{digest}".encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def plain(value):
    """``value`` with numpy scalars/arrays as Python values, tuples as lists and non-finite
    floats as None, so that it can be written as canonical JSON."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return value


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)   # made once: json.dumps makes one per call


def canonical(value) -> str:
    """Sorted keys, no whitespace, UTF-8 text; NaN and infinities are refused."""
    return _CANONICAL.encode(value)


def event_hash(prev_hash: str, event: dict) -> str:
    fields = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


class AuditLog:
    """Append-only events on one store database; the caller owns the transaction."""

    def __init__(self, db):
        self.db = db
        fresh = not _table_exists(db, "audit_head")
        self.db.execute(SCHEMA)
        if fresh:
            seq, digest = self._last()
            self.db.execute("INSERT INTO audit_head VALUES (?, ?, ?)",
                            [seq, digest, head_mac(seq, digest, audit_key())])

    def append(self, *, actor: str, action: str, subject: str, details: dict) -> dict:
        """Add one event after the last and move the head to it; return the event (with
        ``seq`` and ``hash``)."""
        details = plain(details)
        lock = " FOR UPDATE" if getattr(self.db, "dialect", "") == "postgres" else ""
        last, prev = self.db.execute(f"SELECT seq, hash FROM audit_head{lock}").fetchone()
        seq, at = last + 1, datetime.now(timezone.utc)
        event = {"seq": seq, "at": _iso(at), "actor": str(actor), "action": str(action),
                 "subject": str(subject), "details": details}
        event["prev_hash"], event["hash"] = prev, event_hash(prev, event)
        self.db.execute("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        [seq, at, event["actor"], event["action"], event["subject"],
                         canonical(details), prev, event["hash"]])
        self.db.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ?",
                        [seq, event["hash"], head_mac(seq, event["hash"], audit_key())])
        return event

    def events(self, action: str | None = None, *, subject: str | None = None, after: int = 0,
               limit: int | None = None) -> list[dict]:
        """Events in order, optionally only one action and/or one subject, only those after
        seq ``after``, at most ``limit`` of them."""
        where, params = ["seq > ?"], [int(after)]
        for column, value in (("action", action), ("subject", subject)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {COLUMNS} FROM audit_events WHERE " + " AND ".join(where) + " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [_event(row) for row in self.db.execute(sql, params).fetchall()]

    def check(self) -> ChainCheck:
        """Walk the chain (position, link and hash of every event), then compare its end
        with the head and the head with its mac."""
        key = audit_key()
        result = self.db.execute(CHAIN)
        heads, expected, prev = [], 1, GENESIS
        while rows := result.fetchmany(FETCH):
            for part, *row in rows:
                if part == 0:
                    heads.append(row)
                    continue
                reason = _broken(expected, prev, row)
                if reason:  # a gap names the first missing seq
                    first = min(row[0], expected) if row[0] is not None else expected
                    return ChainCheck(False, self._count(), first, reason, key is not None)
                expected, prev = expected + 1, row[7]
        return _check_head(heads, expected - 1, prev, key)

    def verify(self) -> int | None:
        """The ``seq`` of the first event the chain cannot vouch for: missing (a gap, a cut
        end), badly linked, changed, or past the head; None when the whole chain holds.
        :meth:`check` says why."""
        return self.check().first_broken

    def _last(self) -> tuple[int, str]:
        last = self.db.execute(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1").fetchone()
        return (int(last[0]), last[1]) if last else (0, GENESIS)

    def _count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM audit_events").fetchone()[0])


def _broken(expected: int, prev: str, row) -> str | None:
    """Why the event ``row`` (COLUMNS order) breaks the chain at this position, or None."""
    seq, *_, prev_hash, digest = row
    if seq != expected:
        return BAD_SEQ.format(expected=expected, seq=seq)
    if prev_hash != prev:
        return BAD_LINK.format(seq=seq)
    if _stored_text_hash(prev, row) == digest:
        return None
    try:
        if event_hash(prev, _event(row)) == digest:
            return None
    except ValueError:  # non-finite numbers in damaged details
        pass
    return BAD_HASH.format(seq=seq)


def _stored_text_hash(prev: str, row) -> str | None:
    """The event hash computed over the stored ``details`` text as it is (fast: no
    re-encoding); equal to :func:`event_hash` when that text is canonical JSON. None when
    the text is not one JSON value: only then could it run into the fields after it."""
    seq, at, actor, action, subject, details, _, _ = row
    try:
        _STRICT.decode(details)
    except (TypeError, ValueError):
        return None
    text = "".join(('{"action":', _text(action), ',"actor":', _text(actor), ',"at":',
                    _text(None if at is None else _iso(at)), ',"details":', details,
                    ',"seq":', str(int(seq)), ',"subject":', _text(subject), '}'))
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _refuse(constant: str):
    raise ValueError(f"{constant} is not canonical JSON")


_STRICT = json.JSONDecoder(parse_constant=_refuse)


def _check_head(heads: list, last: int, last_hash: str, key: bytes | None) -> ChainCheck:
    """Compare the walked chain's end (``last`` seq, ``last_hash``) with the head row."""
    keyed = key is not None
    if len(heads) != 1:
        return ChainCheck(False, last, max(last, 1), NO_HEAD.format(rows=len(heads)), keyed)
    seq, *_, mac, _, digest = heads[0]
    if seq is None or seq > last:
        return ChainCheck(False, last, last + 1, MISSING_TAIL.format(last=last, head=seq), keyed)
    if seq < last:
        return ChainCheck(False, last, seq + 1, EXTRA_TAIL.format(head=seq), keyed)
    if digest != last_hash:
        return ChainCheck(False, last, max(last, 1), OTHER_TAIL.format(last=last), keyed)
    if not hmac.compare_digest(str(mac), head_mac(seq, digest, key)):
        return ChainCheck(False, last, max(last, 1), BAD_MAC.format(key_env=KEY_ENV), keyed)
    return ChainCheck(True, last, None, None, keyed)


def _table_exists(db, name: str) -> bool:
    return db.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
                      " AND table_schema = current_schema()", [name]).fetchone()[0] > 0


def _event(row) -> dict:
    seq, at, actor, action, subject, details, prev_hash, digest = row
    try:
        parsed = json.loads(details)
    except (TypeError, json.JSONDecodeError):
        parsed = details  # a damaged row: verify() reports it, readers still see it
    return {"seq": seq, "at": None if at is None else _iso(at), "actor": actor,
            "action": action, "subject": subject, "details": parsed,
            "prev_hash": prev_hash, "hash": digest}


def _iso(at: datetime) -> str:
    """ISO-8601 UTC with microseconds; a naive ``at`` is UTC wall time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")
