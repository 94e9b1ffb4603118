"""Who may call what: bearer tokens (or the dashboard's cookie, on its pages and for reading)
and one table of roles.

:data:`PERMISSIONS` maps every endpoint's name to the roles allowed to call it; ``None``
marks the public health check. A missing token answers 401, a token without an allowed
role 403. Checking a token's argon2 hash is slow on purpose, so a successful check is
remembered (by the sha256 of the token, never the token) for :data:`CACHE_SECONDS`;
revocation and roles are read from the store on every request, so a revoked token stops
working at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from fastapi import Request

from trustshield.errors import PermissionDenied
from trustshield.service.errors import ApiError
from trustshield.store.tokens import TokenInfo

COOKIE = "trustshield_token"  # the dashboard's sign-in: honoured under /ui and for GETs
DASHBOARD_PREFIX = "/ui"
CACHE_SECONDS = 300.0
READ = frozenset({"viewer", "analyst", "auditor", "admin"})
ANALYST = frozenset({"analyst", "admin"})
AUDIT = frozenset({"auditor", "admin"})
ADMIN = frozenset({"admin"})
RED_TEAM = frozenset({"red-team"})  # dual use: admin does not imply it

PERMISSIONS: dict[str, frozenset[str] | None] = {
    "health": None,
    "metrics": AUDIT,
    "score": ANALYST,
    "alerts.list": READ, "alerts.get": READ, "alerts.review": ANALYST,
    "reviews.list": READ, "reviews.pick": ANALYST, "reviews.export": ANALYST,
    "models.list": READ, "models.upload": ADMIN, "models.activate": ADMIN,
    "reports.get": READ, "practices.list": READ,
    "audit.list": AUDIT, "audit.verify": AUDIT,
    "settings.get": AUDIT, "settings.update": ADMIN, "retention.apply": ADMIN,
    "abuse.list": AUDIT, "abuse.lift": ADMIN,
    "redteam.evade": RED_TEAM, "redteam.runs": RED_TEAM,
}


@dataclass(frozen=True)
class Caller:
    """The verified caller of one request."""

    token_id: str
    name: str
    roles: frozenset[str]

    @property
    def actor(self) -> str:
        return f"token:{self.token_id}({self.name})"


class TokenCheck:
    """Verify tokens against the store's token table, remembering recent argon2 checks."""

    def __init__(self, tokens, lock: threading.RLock):
        self.tokens, self.lock = tokens, lock
        self._verified: dict[str, tuple[str, float]] = {}

    def caller(self, token: str) -> Caller:
        digest = hashlib.sha256(token.encode()).hexdigest()
        cached = self._verified.get(digest)
        now = time.monotonic()
        if cached is None or now - cached[1] > CACHE_SECONDS:
            with self.lock:
                token_id = self.tokens.check_secret(token)
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[digest] = cached = (token_id, now)
        with self.lock:
            info: TokenInfo = self.tokens.info(cached[0])
        return Caller(info.token_id, info.name, info.roles)


def presented_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.method == "GET" or request.url.path.startswith(DASHBOARD_PREFIX):
        return request.cookies.get(COOKIE) or None
    return None  # a state change through the API needs the header: no cross-site requests


def authorise(request: Request, endpoint: str) -> Caller | None:
    """The caller, when allowed to use ``endpoint``; ApiError 401/403 otherwise."""
    allowed = PERMISSIONS[endpoint]
    if allowed is None:
        return None
    token = presented_token(request)
    if token is None:
        raise ApiError(401, "authentication required: send `Authorization: Bearer <token>` "
                       "(create one with `trustshield tokens create`)",
                       headers={"WWW-Authenticate": "Bearer"})
    try:
        caller = request.app.state.context.token_check.caller(token)
    except PermissionDenied as exc:
        raise ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    if not caller.roles & allowed:
        raise ApiError(403, f"{endpoint} needs one of the roles {sorted(allowed)}; this "
                       f"token holds {sorted(caller.roles)}",
                       details=[{"needed": sorted(allowed), "held": sorted(caller.roles)}])
    request.state.caller = caller
    return caller


def requires(endpoint: str):
    """A FastAPI dependency enforcing :data:`PERMISSIONS` for ``endpoint``."""
    if endpoint not in PERMISSIONS:
        raise KeyError(f"endpoint {endpoint!r} has no entry in PERMISSIONS")

    def dependency(request: Request) -> Caller | None:
        return authorise(request, endpoint)

    dependency.endpoint_name = endpoint
    return dependency
