"""Privacy for the scoring service: keyed pseudonyms for identities, retention of alerts.

**Pseudonyms.** An identity (an IP address, a user name) is stored as
``"hmac:" + the first 32 hex digits (128 bits) of HMAC-SHA256(key, scope ‖ 0x00 ‖ value)``.
The same value under the same key always gives the same pseudonym, so an analyst can
still see that two alerts involve the same host, yet nobody without the key can test a
guess (an unkeyed hash of an IPv4 address falls to a 2³² search in seconds).

The MAC input is scoped by the *kind* of identity, not by the field name: ``src_ip`` and
``dst_ip`` share the scope ``ip``, so a host keeps one pseudonym whether it sent or
received (the attacker in one alert is recognisably the victim in another); ``user`` has
the scope ``user``, so a user named ``10.0.0.1`` never collides with that address. IP
values are validated and canonicalised with :mod:`ipaddress` first (``2001:DB8::1`` and
``2001:db8:0::1`` are one host; an IPv4-mapped IPv6 address is its IPv4 address); user
names are taken as given (case matters) and must be non-empty text.

The key comes from ``$TRUSTSHIELD_PSEUDONYM_KEY`` (hex or base64, at least 32 bytes); it is
never stored with the data. Rotating it breaks linkage with older pseudonyms, by design.

**Retention.** :func:`apply_retention` deletes alerts created before ``now - days`` (and
their review-queue rows, when the ``reviews`` table exists) in one transaction with the
audit event ``retention.delete``; if anything fails, nothing is deleted. Alerts without a
``created_at`` are kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
from datetime import datetime, timedelta

from trustshield.errors import ConfigError, DataError, StoreError

KEY_ENV = "TRUSTSHIELD_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32
PREFIX = "hmac:"
DIGEST_HEX = 32
IDENTITY_FIELDS = ("src_ip", "dst_ip", "user")
SCOPES = {"src_ip": "ip", "dst_ip": "ip", "user": "user"}

KEY_MISSING = (f"${KEY_ENV} is not set: expected a secret key of at least {MIN_KEY_BYTES} "
               "bytes, as hex or base64 text")
KEY_UNREADABLE = f"${KEY_ENV} must be hex or base64 text; got text that is neither"
KEY_SHORT = "the pseudonymisation key must be at least {minimum} bytes; got {got}"
UNKNOWN_FIELD = "cannot pseudonymise field {field!r}: expected one of {expected}"
NOT_AN_IP = "{field} must be an IPv4 or IPv6 address; got {value!r}"
EMPTY_USER = "{field} must be non-empty text; got {value!r}"
BAD_DAYS = "retention days must be a whole number ≥ 1; got {value!r}"
NAIVE_NOW = "now must be a timezone-aware datetime; got {value!r}"
REVIEWS_UNLINKED = "the reviews table has no alert_id column; its columns are {columns}"


class Pseudonymiser:
    """Keyed, deterministic pseudonyms for identity fields (see the module docstring)."""

    def __init__(self, key: bytes):
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            got = f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__
            raise ConfigError(KEY_SHORT.format(minimum=MIN_KEY_BYTES, got=got))
        self._key = key

    def __repr__(self) -> str:
        return "Pseudonymiser(key=<hidden>)"

    @classmethod
    def from_env(cls, environ=None) -> Pseudonymiser:
        """The pseudonymiser keyed by ``$TRUSTSHIELD_PSEUDONYM_KEY`` (hex or base64)."""
        text = (os.environ if environ is None else environ).get(KEY_ENV, "").strip()
        if not text:
            raise ConfigError(KEY_MISSING)
        return cls(decode_key(text))

    def pseudonymise(self, value: str, *, field: str = "src_ip") -> str:
        """``"hmac:"`` + 32 hex digits for ``value`` of identity ``field`` (validated)."""
        scope = SCOPES.get(field)
        if scope is None:
            raise DataError(UNKNOWN_FIELD.format(field=field, expected=", ".join(IDENTITY_FIELDS)))
        message = scope.encode() + b"\x00" + identity_value(field, value).encode("utf-8")
        return PREFIX + hmac.new(self._key, message, hashlib.sha256).hexdigest()[:DIGEST_HEX]

    def pseudonymise_entities(self, entities: dict[str, str | None]) -> dict[str, str | None]:
        """The same dict with every identity value pseudonymised (None stays None); any key
        outside :data:`IDENTITY_FIELDS` is refused, so nothing passes through unhashed."""
        unknown = sorted(set(entities) - set(IDENTITY_FIELDS))
        if unknown:
            raise DataError(UNKNOWN_FIELD.format(field=unknown[0],
                                                 expected=", ".join(IDENTITY_FIELDS)))
        return {field: None if value is None else self.pseudonymise(value, field=field)
                for field, value in entities.items()}


def decode_key(text: str) -> bytes:
    """Key bytes from hex (tried first) or base64 (standard or URL-safe alphabet) text."""
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(KEY_UNREADABLE) from None


def identity_value(field: str, value) -> str:
    """``value`` of identity ``field`` in its one standard form (IPs normalised, user names as
    given); DataError naming the field when it is not a valid value of it."""
    if SCOPES.get(field) is None:
        raise DataError(UNKNOWN_FIELD.format(field=field, expected=", ".join(IDENTITY_FIELDS)))
    return _canonical_ip(field, value) if SCOPES[field] == "ip" else _checked_user(field, value)


def _canonical_ip(field: str, value) -> str:
    try:
        if not isinstance(value, str):  # ip_address would also take integers and bytes
            raise ValueError(value)
        address = ipaddress.ip_address(value)
    except ValueError:
        raise DataError(NOT_AN_IP.format(field=field, value=value)) from None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _checked_user(field: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(EMPTY_USER.format(field=field, value=value))
    return value


def retention_cutoff(now: datetime, days: int) -> datetime:
    """The instant before which alerts are deleted: ``now - days``."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(BAD_DAYS.format(value=days))
    if not isinstance(now, datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise ConfigError(NAIVE_NOW.format(value=now))
    return now - timedelta(days=days)


def apply_retention(store, *, days: int, now: datetime) -> dict:
    """Delete alerts created before ``now - days`` and their review rows, audited as
    ``retention.delete`` in the same transaction; return the audit details
    ({"cutoff": ISO-8601, "deleted": alerts, "reviews_deleted": rows, "days": days})."""
    cutoff = retention_cutoff(now, days)
    old = "SELECT alert_id FROM alerts WHERE created_at < ?"
    with store.transaction():
        reviews = 0
        if _has_reviews(store):
            reviews = _count(store, f"SELECT count(*) FROM reviews WHERE alert_id IN ({old})",
                             cutoff)
            store.db.execute(f"DELETE FROM reviews WHERE alert_id IN ({old})", [cutoff])
        deleted = _count(store, "SELECT count(*) FROM alerts WHERE created_at < ?", cutoff)
        store.db.execute("DELETE FROM alerts WHERE created_at < ?", [cutoff])
        details = {"cutoff": cutoff.isoformat(), "deleted": deleted,
                   "reviews_deleted": reviews, "days": days}
        store.record_event("retention.delete", "alerts", details)
    return details


def _has_reviews(store) -> bool:
    """Whether the store's current schema has a ``reviews`` table linked by alert_id."""
    columns = [row[0] for row in store.db.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = ? AND table_schema = current_schema()", ["reviews"]).fetchall()]
    if columns and "alert_id" not in columns:
        raise StoreError(REVIEWS_UNLINKED.format(columns=", ".join(columns)))
    return bool(columns)


def _count(store, sql: str, cutoff: datetime) -> int:
    return int(store.db.execute(sql, [cutoff]).fetchone()[0])
