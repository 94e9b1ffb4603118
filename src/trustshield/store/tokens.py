"""EDGE: API tokens for the service, stored only as argon2 hashes.

A token reads ``tsk_<token_id>_<secret>``: ``token_id`` (12 hex) finds the row, the
secret (32 random bytes, URL-safe base64) is checked against the row's argon2id hash. The
plain token is shown once, when it is created, and never stored or logged. Creating and
revoking a token each append an audit event in the same transaction; revoking also ends the
token's dashboard sessions (:mod:`trustshield.store.sessions`).

Checking a secret costs the same whether or not the id exists: an unknown id, or a token
that is not even well formed, is verified against a dummy hash with the argon2 parameters of
the newest stored token (:func:`verify_secret`), so timing does not tell which ids exist.
The lookup (:meth:`TokenTable.secret_hashes`) and the slow verification are separate steps,
so a caller can hold its database lock for the first only.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from argon2 import Parameters, PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from trustshield.config import ROLES
from trustshield.errors import PermissionDenied, StoreError
from trustshield.store.sessions import end_token_sessions, ensure_session_schema

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id VARCHAR PRIMARY KEY, name VARCHAR, roles VARCHAR, secret_hash VARCHAR,
    created_at TIMESTAMPTZ, created_by VARCHAR, revoked_at TIMESTAMPTZ, revoked_by VARCHAR);
"""
TOKEN_PATTERN = re.compile(r"^tsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
BAD_TOKEN = "the token is malformed, unknown, revoked or wrong"
_HASHER = PasswordHasher()  # argon2id with the library's recommended cost


class BadToken(PermissionDenied):
    """A token was refused; ``token_id`` names it when a token with that id exists (so
    refusals can be attributed), None for unknown ids and malformed tokens."""

    def __init__(self, message: str = BAD_TOKEN, *, token_id: str | None = None):
        super().__init__(message)
        self.token_id = token_id


@dataclass(frozen=True)
class StoredSecret:
    """What verifying one presented token needs from the store: the hash of the token id's
    row (None when no such id) and a reference hash whose cost a dummy must match."""

    token_id: str | None
    secret: str = dataclasses.field(repr=False)
    stored_hash: str | None = None
    reference_hash: str | None = None


def parse_token(token: str | None) -> tuple[str | None, str]:
    """(token id, secret) of a well-formed token; (None, the text) otherwise."""
    match = TOKEN_PATTERN.match(token or "")
    return (match.group(1), match.group(2)) if match else (None, token or "")


_DUMMIES: dict[tuple, str] = {}  # argon2 parameters → a dummy hash with them


def _dummy_for(parameters: Parameters | None) -> str:
    key = () if parameters is None else dataclasses.astuple(parameters)
    if key not in _DUMMIES:
        hasher = _HASHER if parameters is None else PasswordHasher.from_parameters(parameters)
        if len(_DUMMIES) >= 16:
            _DUMMIES.clear()
        _DUMMIES[key] = hasher.hash(secrets.token_urlsafe(32))
    return _DUMMIES[key]


def dummy_hash(reference: str | None) -> str:
    """An argon2 hash of a random secret with ``reference``'s parameters (the default
    hasher's when there is no usable reference): verifying against it costs what verifying
    a real token costs."""
    try:
        parameters = extract_parameters(reference) if reference else None
    except (InvalidHashError, ValueError):
        parameters = None
    return _dummy_for(parameters)


def verify_secret(lookup: StoredSecret) -> bool:
    """True when the secret matches the stored hash (slow: one argon2 verification, always
    exactly one, against a dummy of the same cost when no hash is stored)."""
    target = lookup.stored_hash or dummy_hash(lookup.reference_hash)
    try:
        _HASHER.verify(target, lookup.secret)  # the cost is read from the hash itself
    except (VerificationError, InvalidHashError):
        return False
    return lookup.stored_hash is not None


@dataclass(frozen=True)
class TokenInfo:
    """Who a verified token belongs to; never holds the secret."""

    token_id: str
    name: str
    roles: frozenset[str]

    @property
    def actor(self) -> str:
        """How audit events name the holder: ``token:<token_id>(<name>)``."""
        return f"token:{self.token_id}({self.name})"


class TokenTable:
    """Create, verify, revoke and list tokens in an :class:`~trustshield.store.AlertStore`."""

    def __init__(self, store):
        self.store = store
        for statement in filter(str.strip, SCHEMA.split(";")):
            store.db.execute(statement)
        ensure_session_schema(store)

    def create(self, name: str, roles) -> tuple[str, TokenInfo]:
        """Return (the plain token, shown once; its info). Audited as ``token.create``."""
        roles = frozenset(roles)
        if not name or not name.strip():
            raise StoreError("a token needs a non-empty --name saying whose or what it is")
        unknown = sorted(roles - set(ROLES))
        if not roles or unknown:
            raise StoreError(f"roles must be one or more of {list(ROLES)}, got {sorted(roles)}")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self.store.transaction():
            self.store.db.execute(
                "INSERT INTO api_tokens (token_id, name, roles, secret_hash, created_at, created_by)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    token_id,
                    name.strip(),
                    json.dumps(sorted(roles)),
                    _HASHER.hash(secret),
                    _now(),
                    self.store.actor,
                ],
            )
            self.store.record_event(
                "token.create", token_id, {"name": name.strip(), "roles": sorted(roles)}
            )
        return f"tsk_{token_id}_{secret}", TokenInfo(token_id, name.strip(), roles)

    def revoke(self, token_id: str) -> int:
        """Mark a token revoked and end its dashboard sessions (audited as ``token.revoke``
        with the number of sessions ended, which it returns); StoreError when unknown or
        already revoked."""
        with self.store.transaction():
            row = self._row(token_id)
            if row is None:
                raise StoreError(f"no token with id {token_id!r}; see `trustshield tokens list`")
            if row[3] is not None:
                raise StoreError(f"token {token_id} was already revoked at {row[3]}")
            self.store.db.execute(
                "UPDATE api_tokens SET revoked_at = ?, revoked_by = ? WHERE token_id = ?",
                [_now(), self.store.actor, token_id],
            )
            ended = end_token_sessions(self.store, token_id)
            self.store.record_event(
                "token.revoke", token_id, {"name": row[0], "sessions_ended": ended}
            )
        return ended

    def secret_hashes(self, token: str) -> StoredSecret:
        """The fast half of a check: the stored hash for ``token``'s id and the reference
        hash (the newest token's) a dummy must match. Verify it with :func:`verify_secret`."""
        token_id, secret = parse_token(token)
        row = self._row(token_id) if token_id else None
        newest = self.store.db.execute(
            "SELECT secret_hash FROM api_tokens ORDER BY created_at DESC LIMIT 1"
        ).fetchone()
        return StoredSecret(
            token_id if row else None,
            secret,
            row[2] if row else None,
            newest[0] if newest else None,
        )

    def check_secret(self, token: str) -> str:
        """The token id when ``token``'s secret matches its stored hash (slow: argon2, the
        same cost for unknown ids); BadToken otherwise. Revocation is checked separately by
        :meth:`info`."""
        lookup = self.secret_hashes(token)
        if not verify_secret(lookup) or lookup.token_id is None:
            raise BadToken(token_id=lookup.token_id)
        return lookup.token_id

    def get(self, token_id: str) -> dict | None:
        """One token as :meth:`list` shows it, or None when there is no such id."""
        return next((row for row in self._listed("WHERE token_id = ?", [token_id])), None)

    def info(self, token_id: str) -> TokenInfo:
        """The token's current name and roles; PermissionDenied when revoked or unknown."""
        row = self._row(token_id)
        if row is None or row[3] is not None:
            raise BadToken(token_id=token_id if row is not None else None)
        return TokenInfo(token_id, row[0], frozenset(json.loads(row[1])))

    def list(self) -> list[dict]:
        """Every token without its secret: token_id, name, roles, created_at, created_by,
        revoked_at, revoked_by (oldest first)."""
        return self._listed("", [])

    def _listed(self, where: str, params: builtins.list[Any]) -> builtins.list[dict]:
        rows = self.store.db.execute(
            "SELECT token_id, name, roles, created_at, created_by, revoked_at, revoked_by"
            f" FROM api_tokens {where} ORDER BY created_at",
            params,
        ).fetchall()
        return [
            {
                "token_id": r[0],
                "name": r[1],
                "roles": json.loads(r[2]),
                "created_at": r[3],
                "created_by": r[4],
                "revoked_at": r[5],
                "revoked_by": r[6],
            }
            for r in rows
        ]

    def _row(self, token_id: str):
        return self.store.db.execute(
            "SELECT name, roles, secret_hash, revoked_at FROM api_tokens WHERE token_id = ?",
            [token_id],
        ).fetchone()


def _now() -> datetime:
    return datetime.now(timezone.utc)
