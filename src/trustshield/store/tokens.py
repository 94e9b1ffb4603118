"""EDGE: API tokens for the service, stored only as argon2 hashes.

A token reads ``tsk_<token_id>_<secret>``: ``token_id`` (12 hex) finds the row, the
secret (32 random bytes, URL-safe base64) is checked against the row's argon2id hash. The
plain token is shown once, when it is created, and never stored or logged. Creating and
revoking a token each append an audit event in the same transaction.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from trustshield.config import ROLES
from trustshield.errors import PermissionDenied, StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id VARCHAR PRIMARY KEY, name VARCHAR, roles VARCHAR, secret_hash VARCHAR,
    created_at TIMESTAMPTZ, created_by VARCHAR, revoked_at TIMESTAMPTZ, revoked_by VARCHAR);
"""
TOKEN_PATTERN = re.compile(r"^tsk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
BAD_TOKEN = "the token is malformed, unknown, revoked or wrong"
_HASHER = PasswordHasher()  # argon2id with the library's recommended cost


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
                [token_id, name.strip(), json.dumps(sorted(roles)), _HASHER.hash(secret),
                 _now(), self.store.actor])
            self.store.record_event("token.create", token_id,
                                    {"name": name.strip(), "roles": sorted(roles)})
        return f"tsk_{token_id}_{secret}", TokenInfo(token_id, name.strip(), roles)

    def revoke(self, token_id: str) -> None:
        """Mark a token revoked (audited as ``token.revoke``); StoreError when unknown."""
        with self.store.transaction():
            row = self._row(token_id)
            if row is None:
                raise StoreError(f"no token with id {token_id!r}; see `trustshield tokens list`")
            if row[3] is not None:
                raise StoreError(f"token {token_id} was already revoked at {row[3]}")
            self.store.db.execute("UPDATE api_tokens SET revoked_at = ?, revoked_by = ?"
                                  " WHERE token_id = ?", [_now(), self.store.actor, token_id])
            self.store.record_event("token.revoke", token_id, {"name": row[0]})

    def check_secret(self, token: str) -> str:
        """The token id when ``token``'s secret matches its stored hash (slow: argon2);
        PermissionDenied otherwise. Revocation is checked separately by :meth:`info`."""
        match = TOKEN_PATTERN.match(token or "")
        row = self._row(match.group(1)) if match else None
        if row is None:
            raise PermissionDenied(BAD_TOKEN)
        try:
            _HASHER.verify(row[2], match.group(2))
        except (VerificationError, InvalidHashError):
            raise PermissionDenied(BAD_TOKEN) from None
        return match.group(1)

    def info(self, token_id: str) -> TokenInfo:
        """The token's current name and roles; PermissionDenied when revoked or unknown."""
        row = self._row(token_id)
        if row is None or row[3] is not None:
            raise PermissionDenied(BAD_TOKEN)
        return TokenInfo(token_id, row[0], frozenset(json.loads(row[1])))

    def list(self) -> list[dict]:
        rows = self.store.db.execute(
            "SELECT token_id, name, roles, created_at, created_by, revoked_at FROM api_tokens"
            " ORDER BY created_at").fetchall()
        return [{"token_id": r[0], "name": r[1], "roles": json.loads(r[2]), "created_at": r[3],
                 "created_by": r[4], "revoked_at": r[5]} for r in rows]

    def _row(self, token_id: str):
        return self.store.db.execute(
            "SELECT name, roles, secret_hash, revoked_at FROM api_tokens WHERE token_id = ?",
            [token_id]).fetchone()


def _now() -> datetime:
    return datetime.now(timezone.utc)
