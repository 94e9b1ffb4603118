"""Request bodies: who may send one, and how large it may be, decided before a byte is read.

:class:`BodyLimits` is plain ASGI middleware. For every request that carries a body
(``Content-Length`` above 0, or ``Transfer-Encoding``) it

1. refuses a declared ``Content-Length`` above the route's cap with **413**, unread;
2. authorises the caller of an API route exactly as the route will (the route's
   ``requires(...)`` entry of :data:`~trustshield.service.access.PERMISSIONS`): no token,
   a bad token or a role that may not call the route is answered **401/403**, unread.
   (FastAPI reads and parses a declared body *before* it runs a route's dependencies, so
   without this an anonymous client could make the service parse any JSON it sends.)
3. counts the bytes of the body as the route reads it and stops at the cap with **413**
   (a chunked body declares no length).

An early refusal carries ``Connection: close``, so the server stops reading the rest.

Caps, in bytes (:class:`~trustshield.service.settings.ServiceSettings`):

======================================  =====================================  =========
route                                   setting                                default
======================================  =====================================  =========
``POST /v1/models`` (a signed bundle)   ``max_bundle_body_bytes``              64 MiB
``POST /v1/score``, ``/v1/redteam/*``   ``max_records_body_bytes``             8 MiB
dashboard forms (``/ui/...``)           :data:`~.pages.MAX_FORM_BYTES`         16 KiB
any other request                       ``max_body_bytes``                     64 KiB
======================================  =====================================  =========
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.routing import Match

from trustshield.service import access
from trustshield.service.errors import ApiError, error_response
from trustshield.service.pages import FORM_TOO_LARGE, MAX_FORM_BYTES

BODY_TOO_LARGE = "the request body is {size} bytes; at most {limit} bytes are accepted here"
BODY_GREW_TOO_LARGE = "the request body exceeds {limit} bytes, the most accepted here"
BAD_LENGTH = "Content-Length must be a whole number of bytes; got {value!r}"
CLOSE = {"Connection": "close"}


@dataclass(frozen=True)
class BodyCap:
    """The most bytes a route's body may hold, and how a refusal reads (``{size}`` and
    ``{limit}`` are filled in)."""

    limit: int
    message: str = BODY_TOO_LARGE


def body_cap(settings, path: str) -> BodyCap:
    """The cap of a request to ``path`` under ``settings`` (see the module's table)."""
    if path == "/v1/models":
        return BodyCap(settings.max_bundle_body_bytes)
    if path == "/v1/score" or path.startswith("/v1/redteam/"):
        return BodyCap(settings.max_records_body_bytes)
    if path.startswith(access.DASHBOARD_PREFIX + "/"):
        return BodyCap(MAX_FORM_BYTES, FORM_TOO_LARGE)
    return BodyCap(settings.max_body_bytes)


class BodyTooLarge(HTTPException):
    """Raised while a body is read once it passes its cap; FastAPI lets HTTPExceptions
    through its body parsing, so every route answers it as 413."""

    def __init__(self, limit: int):
        super().__init__(413, BODY_GREW_TOO_LARGE.format(limit=limit), headers=CLOSE)


def guarded_routes(routers) -> list[tuple[object, str]]:
    """(route, its :data:`~trustshield.service.access.PERMISSIONS` name) for every route of
    ``routers`` that names one through a ``requires(...)`` dependency."""
    found = []
    for route in (r for router in routers for r in router.routes):
        for dependency in getattr(getattr(route, "dependant", None), "dependencies", ()):
            name = getattr(dependency.call, "endpoint_name", None)
            if name is not None:
                found.append((route, name))
                break
    return found


def endpoint_of(routes, scope) -> str | None:
    """The permission name of the route of :func:`guarded_routes` that ``scope`` reaches
    (path and method); None when it reaches none of them."""
    for route, name in routes:
        if route.matches(scope)[0] is Match.FULL:
            return name
    return None


class BodyLimits:
    """ASGI middleware enforcing the rules of the module docstring; ``routers`` are the
    API's routers (their routes' permissions are checked before a body is read)."""

    def __init__(self, app, routers=()):
        self.app = app
        self.routes = guarded_routes(routers)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if (length is None or length == "0") and "transfer-encoding" not in headers:
            return await self.app(scope, receive, send)  # no body: nothing to guard
        context = getattr(scope["app"].state, "context", None)
        if context is None:
            return await self.app(scope, receive, send)
        cap = body_cap(context.settings, scope["path"])
        refusal = _declared_refusal(length, cap)
        if refusal is None:
            refusal = await _unauthorised(scope, endpoint_of(self.routes, scope))
        if refusal is not None:
            headers = {**(refusal.headers or {}), **CLOSE}
            response = error_response(
                ApiError(
                    refusal.status,
                    refusal.message,
                    code=refusal.code,
                    details=refusal.details,
                    headers=headers,
                )
            )
            return await response(scope, receive, send)
        await self.app(scope, _counting(receive, cap.limit), send)


def _declared_refusal(length: str | None, cap: BodyCap) -> ApiError | None:
    if length is None:
        return None
    if not length.isdigit():
        return ApiError(400, BAD_LENGTH.format(value=length[:40]))
    if int(length) > cap.limit:
        return ApiError(413, cap.message.format(size=int(length), limit=cap.limit))
    return None


async def _unauthorised(scope, endpoint: str | None) -> ApiError | None:
    """The 401/403 the route of ``endpoint`` would answer, found before its body is read;
    None when the caller may go on (or the route is public or not an API route)."""
    if endpoint is None or access.PERMISSIONS.get(endpoint) is None:
        return None
    try:
        await run_in_threadpool(access.authorise, Request(scope), endpoint)
    except ApiError as exc:
        return exc
    return None


def _counting(receive, limit: int):
    """``receive`` that raises :class:`BodyTooLarge` once more than ``limit`` body bytes
    have come."""
    seen = 0

    async def counted():
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(limit)
        return message

    return counted
