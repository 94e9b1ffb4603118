"""Who may call what: bearer tokens (or, on dashboard pages, a sign-in session) and one table
of roles.

:data:`PERMISSIONS` maps every endpoint's name to the roles allowed to call it; ``None``
marks the public health check. A missing or bad credential answers 401, a caller without an
allowed role 403, a client that failed too often 429 (with ``Retry-After``). Every refusal
is noted in :class:`~trustshield.service.refusals.RefusalLog` (aggregated ``access.refused``
audit events).

Credentials: the API takes only ``Authorization: Bearer <token>``, verified by
:class:`~trustshield.service.token_check.TokenCheck` (argon2 outside the store lock,
failed-attempt limits, a success cache). Dashboard pages under ``/ui`` (and their JSON
twins) also take the session cookie :data:`COOKIE` that signing in sets: it holds a random
session secret (:mod:`trustshield.store.sessions`), never the token, is sent by browsers only
to ``/ui`` and is never accepted as a bearer token, nor by ``/v1``.
"""

from __future__ import annotations

import math

import anyio
from fastapi import Request
from starlette.concurrency import run_in_threadpool

from trustshield.service.attempts import AttemptLimits, AttemptRefused, FailedAttempts
from trustshield.service.errors import ApiError
from trustshield.service.refusals import Refusal, RefusalLog
from trustshield.service.token_check import Caller, TokenCheck
from trustshield.store.sessions import SessionLimits, SessionTable
from trustshield.store.tokens import BadToken

__all__ = ["COOKIE", "PERMISSIONS", "Caller", "authorise", "note_refusal", "requires"]

COOKIE = "trustshield_session"  # the dashboard's sign-in session (its secret), Path=/ui
DASHBOARD_PREFIX = "/ui"
READ = frozenset({"viewer", "analyst", "auditor", "admin"})
ANALYST = frozenset({"analyst", "admin"})
AUDIT = frozenset({"auditor", "admin"})
ADMIN = frozenset({"admin"})
RED_TEAM = frozenset({"red-team"})  # dual use: admin does not imply it

PERMISSIONS: dict[str, frozenset[str] | None] = {
    "health": None,
    "metrics": AUDIT,
    "score": ANALYST,
    "alerts.list": READ,
    "drift.list": READ,
    "alerts.get": READ,
    "alerts.review": ANALYST,
    "reviews.list": READ,
    "reviews.pick": ANALYST,
    "reviews.export": ANALYST,
    "incidents.list": READ,
    "incidents.get": READ,
    "incidents.review": ANALYST,
    "models.list": READ,
    "models.upload": ADMIN,
    "models.activate": ADMIN,
    "reports.get": READ,
    "practices.list": READ,
    "audit.list": AUDIT,
    "audit.verify": AUDIT,
    "settings.get": AUDIT,
    "settings.update": ADMIN,
    "retention.apply": ADMIN,
    "abuse.list": AUDIT,
    "abuse.lift": ADMIN,
    "tokens.list": ADMIN,
    "tokens.revoke": ADMIN,
    "redteam.evade": RED_TEAM,
    "redteam.runs": RED_TEAM,
}
NO_CREDENTIAL = (
    "authentication required: send `Authorization: Bearer <token>` "
    "(create one with `trustshield tokens create`)"
)
LOCKED_OUT_DELAY_S = 1.0
SESSION_ENDED = "the dashboard session has ended or is unknown: sign in again at /ui/login"


def attach(context) -> None:
    """Give a :class:`~trustshield.service.context.ServiceContext` what access needs: its
    ``token_check``, dashboard ``sessions`` and ``refusals`` log, from its settings."""
    settings = context.settings
    attempts = FailedAttempts(
        AttemptLimits(
            window_s=settings.auth_window_s,
            per_client_token=settings.auth_failures_per_client_token,
            per_client=settings.auth_failures_per_client,
            per_token=settings.auth_failures_per_token,
        )
    )
    context.token_check = TokenCheck(
        context.tokens,
        context.lock,
        attempts,
        concurrency=settings.auth_verify_concurrency,
        queue=settings.auth_verify_queue,
    )
    context.sessions = SessionTable(
        context.store,
        SessionLimits(lifetime_s=settings.session_lifetime_s, idle_s=settings.session_idle_s),
    )

    from trustshield.service.context import SERVICE_ACTOR

    def record(subject: str, details: dict) -> None:
        with context.write(SERVICE_ACTOR) as store:
            store.record_event("access.refused", subject, details)

    context.refusals = RefusalLog(record, window_s=settings.refusal_window_s)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def presented_token(request: Request) -> str | None:
    """The bearer token in the Authorization header, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def session_secret(request: Request) -> str | None:
    """The session cookie's secret, on dashboard paths only."""
    if not request.url.path.startswith(DASHBOARD_PREFIX):
        return None
    return request.cookies.get(COOKIE) or None


def note_refusal(
    request: Request, kind: str, status: int, endpoint: str, token_id: str | None = None
) -> None:
    request.app.state.context.refusals.note(
        Refusal(kind, status, endpoint, client_address(request), token_id)
    )


def session_caller(request: Request) -> Caller | None:
    """The caller whose live dashboard session the cookie names; None otherwise."""
    secret = session_secret(request)
    if secret is None:
        return None
    context = request.app.state.context
    with context.lock:
        session = context.sessions.find(secret)
    if session is None:
        return None
    try:
        return context.token_check.caller_of(session.token_id)
    except BadToken:  # revoked: its sessions are gone too, unless revoked mid-request
        return None


def authenticate(request: Request, endpoint: str, *, note_anonymous: bool = True) -> Caller:
    """The caller of this request (bearer token, else a dashboard session); ApiError 401,
    429 or 503 otherwise, each noted as a refusal (an anonymous one only when
    ``note_anonymous``)."""
    token = presented_token(request)
    if token is None:
        caller = session_caller(request)
        if caller is not None:
            return caller
        kind = "bad_session" if session_secret(request) else "no_credential"
        if kind == "bad_session" or note_anonymous:
            note_refusal(request, kind, 401, endpoint)
        raise ApiError(
            401,
            SESSION_ENDED if kind == "bad_session" else NO_CREDENTIAL,
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        return request.app.state.context.token_check.caller(token, client_address(request))
    except BadToken as exc:
        note_refusal(request, "bad_token", 401, endpoint, exc.token_id)
        raise ApiError(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from None
    except AttemptRefused as exc:
        note_refusal(request, exc.reason.replace(" ", "_"), exc.status, endpoint)
        raise ApiError(
            exc.status, str(exc), headers={"Retry-After": str(math.ceil(exc.retry_after_s))}
        ) from None


def authorise(request: Request, endpoint: str) -> Caller | None:
    """The caller, when allowed to use ``endpoint``; ApiError 401/403/429 otherwise."""
    allowed = PERMISSIONS[endpoint]
    if allowed is None:
        return None
    caller = authenticate(request, endpoint)
    if not caller.roles & allowed:
        note_refusal(request, "forbidden", 403, endpoint, caller.token_id)
        raise ApiError(
            403,
            f"{endpoint} needs one of the roles {sorted(allowed)}; this "
            f"token holds {sorted(caller.roles)}",
            details=[{"needed": sorted(allowed), "held": sorted(caller.roles)}],
        )
    request.state.caller = caller
    return caller


def requires(endpoint: str):
    """A FastAPI dependency enforcing :data:`PERMISSIONS` for ``endpoint``. The check runs
    in the thread pool (it reads the store); a client refused for too many failures is
    answered only after :data:`LOCKED_OUT_DELAY_S` (an asynchronous wait, holding no
    thread), so a locked-out flood slows down instead of spinning."""
    if endpoint not in PERMISSIONS:
        raise KeyError(f"endpoint {endpoint!r} has no entry in PERMISSIONS")

    async def dependency(request: Request) -> Caller | None:
        try:
            return await run_in_threadpool(authorise, request, endpoint)
        except ApiError as exc:
            if exc.status == 429:
                await anyio.sleep(LOCKED_OUT_DELAY_S)
            raise

    dependency.endpoint_name = endpoint
    return dependency
