"""EDGE: dashboard sign-in sessions, stored only as sha256 hashes of their secret.

Signing in to the dashboard with an API token starts a session: a random secret (32 bytes,
URL-safe base64) goes to the browser in a cookie and the store keeps only its sha256, with
the token id, when it started, when it was last used and when it ends. A session is valid
while ``now < expires_at`` (absolute lifetime, :attr:`SessionLimits.lifetime_s` after it
started) and ``now < last_seen_at + idle_s``; ``last_seen_at`` is moved on by use at most
every :data:`TOUCH_S` seconds, so idleness is measured to within that.

A session is never an API token: it only names one, and the token's revocation and roles are
read on every request. Starting and ending a session (sign-out) are audited as
``session.start`` and ``session.end``; sessions found over their limits are deleted when
the next session starts (``session.expire``, with their number); revoking a token ends its
sessions inside ``token.revoke`` (:func:`end_token_sessions`). Audit events name a session by
the first 12 hex digits of its hash (``session``), never by its secret.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from trustshield.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS dashboard_sessions (
    session_hash VARCHAR PRIMARY KEY, token_id VARCHAR, created_at TIMESTAMPTZ,
    last_seen_at TIMESTAMPTZ, expires_at TIMESTAMPTZ)
"""
TOUCH_S = 60.0
BAD_LIMIT = "{name} must be a finite number of seconds > 0; got {value!r}"
MAX_SECRET_CHARS = 200  # a presented cookie longer than this is not one of ours


@dataclass(frozen=True)
class SessionLimits:
    """How long a session lasts: ``lifetime_s`` seconds after signing in at most, and ends
    after ``idle_s`` seconds without use."""

    lifetime_s: float = 8 * 3600.0
    idle_s: float = 30 * 60.0

    def __post_init__(self):
        for name in ("lifetime_s", "idle_s"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ConfigError(BAD_LIMIT.format(name=name, value=value))


@dataclass(frozen=True)
class Session:
    """One live session: ``key`` names it in audit events (12 hex digits of its hash)."""

    key: str
    token_id: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def ensure_session_schema(store) -> None:
    store.db.execute(SCHEMA)


def session_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def end_token_sessions(store, token_id: str) -> int:
    """Delete every session of ``token_id`` (inside the caller's audited transaction); how
    many there were."""
    count = store.db.execute(
        "SELECT count(*) FROM dashboard_sessions WHERE token_id = ?", [token_id]
    ).fetchone()[0]
    store.db.execute("DELETE FROM dashboard_sessions WHERE token_id = ?", [token_id])
    return int(count)


class SessionTable:
    """Start, find and end dashboard sessions in an :class:`~trustshield.store.AlertStore`;
    times are UTC (``now`` may be given, for tests)."""

    def __init__(self, store, limits: SessionLimits = SessionLimits()):
        self.store, self.limits = store, limits
        ensure_session_schema(store)

    def start(self, token_id: str, now: datetime | None = None) -> tuple[str, Session]:
        """A new session for ``token_id``: (the secret for the cookie, shown once; the
        session). Audited as ``session.start``; expired sessions are deleted first."""
        now = now or _now()
        secret = secrets.token_urlsafe(32)
        digest = session_hash(secret)
        session = Session(
            digest[:12], token_id, now, now, now + timedelta(seconds=self.limits.lifetime_s)
        )
        with self.store.transaction():
            self._expire(now)
            self.store.db.execute(
                "INSERT INTO dashboard_sessions VALUES (?, ?, ?, ?, ?)",
                [digest, token_id, now, now, session.expires_at],
            )
            self.store.record_event(
                "session.start",
                token_id,
                {
                    "session": session.key,
                    "expires_at": session.expires_at.isoformat(),
                    "idle_s": self.limits.idle_s,
                },
            )
        return secret, session

    def find(self, secret: str | None, now: datetime | None = None) -> Session | None:
        """The live session whose secret this is; None when unknown, ended or over a limit.
        Use moves its ``last_seen_at`` on (at most every :data:`TOUCH_S` seconds; bookkeeping,
        not audited)."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return None
        now = now or _now()
        digest = session_hash(secret)
        session = self._stored(digest)
        if session is None:
            return None
        if not self._live(session, now):
            return None
        if (now - session.last_seen_at).total_seconds() >= TOUCH_S:
            self.store.db.execute(
                "UPDATE dashboard_sessions SET last_seen_at = ? WHERE session_hash = ?",
                [now, digest],
            )
            session = Session(
                session.key, session.token_id, session.created_at, now, session.expires_at
            )
        return session

    def end(self, secret: str | None) -> Session | None:
        """End (sign out) the session whose secret this is, audited as ``session.end``; the
        session ended, or None when there was none."""
        if not secret or len(secret) > MAX_SECRET_CHARS:
            return None
        digest = session_hash(secret)
        with self.store.transaction():
            session = self._stored(digest)
            if session is None:
                return None
            self.store.db.execute("DELETE FROM dashboard_sessions WHERE session_hash = ?", [digest])
            self.store.record_event(
                "session.end", session.token_id, {"session": session.key, "reason": "signed out"}
            )
        return session

    def count(self) -> int:
        return int(self.store.db.execute("SELECT count(*) FROM dashboard_sessions").fetchone()[0])

    def _stored(self, digest: str) -> Session | None:
        """The stored session of this secret hash, live or not; None when there is none."""
        row = self.store.db.execute(
            "SELECT token_id, created_at, last_seen_at, expires_at FROM dashboard_sessions"
            " WHERE session_hash = ?",
            [digest],
        ).fetchone()
        return None if row is None else Session(digest[:12], *row)

    def _live(self, session: Session, now: datetime) -> bool:
        idle_until = session.last_seen_at + timedelta(seconds=self.limits.idle_s)
        return now < session.expires_at and now < idle_until

    def _expire(self, now: datetime) -> None:
        """Delete sessions over either limit, as one ``session.expire`` event."""
        idle_cutoff = now - timedelta(seconds=self.limits.idle_s)
        where = "WHERE expires_at <= ? OR last_seen_at <= ?"
        count = self.store.db.execute(
            f"SELECT count(*) FROM dashboard_sessions {where}", [now, idle_cutoff]
        ).fetchone()[0]
        if count:
            self.store.db.execute(f"DELETE FROM dashboard_sessions {where}", [now, idle_cutoff])
            self.store.record_event(
                "session.expire",
                "dashboard_sessions",
                {"deleted": int(count), "idle_s": self.limits.idle_s},
            )


def _now() -> datetime:
    return datetime.now(timezone.utc)
