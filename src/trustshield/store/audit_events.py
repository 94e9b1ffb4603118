"""The audit event format: canonical JSON, the hash rule, and the check of one event.

Each event's ``hash`` is the sha256 of the previous event's hash followed by the canonical
JSON of the event::

    hash = sha256(prev_hash + canonical({"seq", "at", "actor", "action", "subject", "details"}))

where ``at`` is ISO-8601 UTC with microseconds and the first event's ``prev_hash`` is
:data:`GENESIS` (64 zeros). Canonical JSON: keys sorted, no whitespace, UTF-8, no NaN.
:func:`broken` says why a stored row (``COLUMNS`` order of :mod:`trustshield.store.audit`)
does not hold at its place in the chain.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from json.encoder import encode_basestring

from trustshield.plain_json import canonical

GENESIS = "0" * 64
BAD_SEQ = "expected event seq {expected}, found seq {seq}: events are missing or renumbered"
BAD_LINK = "event {seq} does not link to the hash of the event before it"
BAD_HASH = "event {seq} does not match its hash: its content was changed"


def event_hash(prev_hash: str, event: dict) -> str:
    fields = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    return hashlib.sha256((prev_hash + canonical(fields)).encode("utf-8")).hexdigest()


def broken(expected: int, prev: str, row) -> str | None:
    """Why the event ``row`` (COLUMNS order) breaks the chain at this position, or None."""
    seq, *_, prev_hash, digest = row
    if seq != expected:
        return BAD_SEQ.format(expected=expected, seq=seq)
    if prev_hash != prev:
        return BAD_LINK.format(seq=seq)
    if _stored_text_hash(prev, row) == digest:
        return None
    try:
        if event_hash(prev, event_of(row)) == digest:
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
    text = "".join(
        (
            '{"action":',
            _text(action),
            ',"actor":',
            _text(actor),
            ',"at":',
            _text(None if at is None else iso(at)),
            ',"details":',
            details,
            ',"seq":',
            str(int(seq)),
            ',"subject":',
            _text(subject),
            "}",
        )
    )
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def _text(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def _refuse(constant: str):
    raise ValueError(f"{constant} is not canonical JSON")


_STRICT = json.JSONDecoder(parse_constant=_refuse)


def event_of(row) -> dict:
    seq, at, actor, action, subject, details, prev_hash, digest = row
    try:
        parsed = json.loads(details)
    except (TypeError, json.JSONDecodeError):
        parsed = details  # a damaged row: verify() reports it, readers still see it
    return {
        "seq": seq,
        "at": None if at is None else iso(at),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": parsed,
        "prev_hash": prev_hash,
        "hash": digest,
    }


def iso(at: datetime) -> str:
    """ISO-8601 UTC with microseconds; a naive ``at`` is UTC wall time."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")
