"""Keyed pseudonyms for identities (IP addresses, user names), below every writer of alerts.

An identity is stored as ``"hmac:" + the first 32 hex digits (128 bits) of
HMAC-SHA256(key, scope ‖ 0x00 ‖ value)``. The same value under the same key always gives the
same pseudonym, so an analyst can still see that two alerts involve the same host, yet
nobody without the key can test a guess (an unkeyed hash of an IPv4 address falls to a 2³²
search in seconds).

The MAC input is scoped by the *kind* of identity, not by the field name: ``src_ip`` and
``dst_ip`` share the scope ``ip``, so a host keeps one pseudonym whether it sent or
received (the attacker in one alert is recognisably the victim in another); ``user`` has
the scope ``user``, so a user named ``10.0.0.1`` never collides with that address. IP
values are validated and canonicalised with :mod:`ipaddress` first (``2001:DB8::1`` and
``2001:db8:0::1`` are one host; an IPv4-mapped IPv6 address is its IPv4 address); user
names are taken as given (case matters) and must be non-empty text.

The key comes from ``$TRUSTSHIELD_PSEUDONYM_KEY`` (hex or base64, at least 32 bytes); it is
never stored with the data. Rotating it breaks linkage with older pseudonyms, by design.
Which identities an alert holds, and where they are pseudonymised, is said by
:class:`trustshield.records.AlertEntities` and :mod:`trustshield.store.entities`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import os
import re
from functools import lru_cache

from trustshield.errors import ConfigError, DataError

KEY_ENV = "TRUSTSHIELD_PSEUDONYM_KEY"
MIN_KEY_BYTES = 32
PREFIX = "hmac:"
DIGEST_HEX = 32
#: the identity fields of an alert's entities, and the scope each is keyed under
IDENTITY_FIELDS = ("src_ip", "dst_ip", "user")
SCOPES = {"src_ip": "ip", "dst_ip": "ip", "user": "user"}
PSEUDONYM = re.compile(re.escape(PREFIX) + f"[0-9a-f]{{{DIGEST_HEX}}}")

KEY_MISSING = (
    f"${KEY_ENV} is not set: expected a secret key of at least {MIN_KEY_BYTES} "
    "bytes, as hex or base64 text"
)
KEY_UNREADABLE = f"${KEY_ENV} must be hex or base64 text; got text that is neither"
KEY_SHORT = "the pseudonymisation key must be at least {minimum} bytes; got {got}"
UNKNOWN_FIELD = "cannot pseudonymise field {field!r}: expected one of {expected}"
NOT_AN_IP = "{field} must be an IPv4 or IPv6 address; got {value!r}"
EMPTY_USER = "{field} must be non-empty text; got {value!r}"


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
        """The pseudonymiser keyed by ``$TRUSTSHIELD_PSEUDONYM_KEY`` (hex or base64);
        ConfigError when it is missing, unreadable or short."""
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


def is_pseudonym(value) -> bool:
    """Whether ``value`` is a pseudonym as :meth:`Pseudonymiser.pseudonymise` writes it."""
    return isinstance(value, str) and PSEUDONYM.fullmatch(value) is not None


def identity_value(field: str, value) -> str:
    """``value`` of identity ``field`` in its one standard form (IPs normalised, user names as
    given); DataError naming the field when it is not a valid value of it."""
    if SCOPES.get(field) is None:
        raise DataError(UNKNOWN_FIELD.format(field=field, expected=", ".join(IDENTITY_FIELDS)))
    return canonical_ip(field, value) if SCOPES[field] == "ip" else _checked_user(field, value)


def canonical_ip(field: str, value) -> str:
    """The address ``value`` in :mod:`ipaddress`'s text form (an IPv4-mapped IPv6 address as
    its IPv4 address); DataError naming ``field`` when it is not an address."""
    if not isinstance(value, str):  # ip_address would also take integers and bytes
        raise DataError(NOT_AN_IP.format(field=field, value=value))
    canonical = _canonical_address(value)
    if canonical is None:
        raise DataError(NOT_AN_IP.format(field=field, value=value))
    return canonical


@lru_cache(maxsize=1 << 16)
def _canonical_address(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return str(getattr(address, "ipv4_mapped", None) or address)


def _checked_user(field: str, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise DataError(EMPTY_USER.format(field=field, value=value))
    return value
