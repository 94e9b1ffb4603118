"""One JSON error shape for every failure the service returns::

    {"error": {"status": 422, "code": "invalid_records", "message": "...",
               "details": [{"row": 3, "field": "src_bytes", "value": "-1",
                            "expected": "a number ≥ 0"}]}}

``details`` is present only where there is more to say (validation problems, the role
needed). A server error (500) says only that it happened and its request id; the trace
stays in the server's log. No message names a place on the server's disk: the store, the
model, key and report folders are named by role (``the store``, ``<models>``, ...) and any
other absolute path becomes ``<path>`` (:func:`public_message`).
"""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from trustshield.errors import (
    AuditChainError,
    DataError,
    ModelIntegrityError,
    PermissionDenied,
    StoreError,
    TrustShieldError,
)

log = logging.getLogger("trustshield.service")

#: TrustShield errors → (status, code)
STATUS_OF = (
    (PermissionDenied, 403, "forbidden"),
    (DataError, 422, "invalid_input"),
    (ModelIntegrityError, 422, "model_refused"),
    (AuditChainError, 503, "audit_unsealed"),
    (StoreError, 404, "not_found"),
    (TrustShieldError, 400, "bad_request"),
)
CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_input",
    429: "rate_limited",
    503: "unavailable",
}


SCHEMA_MISMATCH = "the request does not match the API schema"
#: an absolute file path of two or more parts; the API's own paths (/v1/..., /ui/...) are not
ABSOLUTE_PATH = re.compile(r"(?<![\w.~:/>-])/(?!v1\b|ui\b)[^\s'\"`,;:()<>]+(?:/[^\s'\"`,;:()<>]*)+")


def public_message(request: Request, message: str) -> str:
    """``message`` with every server path replaced: the store by ``the store``, the
    service's folders by ``<models>``, ``<keys>`` and ``<reports>``, anything else that
    looks like an absolute path by ``<path>``."""
    context = getattr(request.app.state, "context", None)
    for place, name in _places(context) if context is not None else ():
        # whole path names only; a relative one only before a "/" (a folder named "m"
        # leaves the word "m" alone)
        anywhere = place.startswith("/") or "://" in place  # absolute, or a database URL
        ahead = r"(?![\w.-])" if anywhere else "(?=/)"
        message = re.sub(rf"(?<![\w.~/-]){re.escape(place)}{ahead}", name, message)
    return ABSOLUTE_PATH.sub("<path>", message)


def _places(context) -> list[tuple[str, str]]:
    """(path as it may be written, its public name), longest first."""
    settings = context.settings
    named = [
        (getattr(context.store, "path", None), "the store"),
        (settings.store, "the store"),
        (settings.models_dir, "<models>"),
        (settings.keys_dir, "<keys>"),
        (settings.reports_dir, "<reports>"),
    ]
    places = set()
    for path, name in named:
        if path:
            places |= {
                (str(path), name),
                (str(Path(path).absolute()), name),
                (str(Path(path).resolve()), name),
            }
    return sorted(places, key=lambda pair: -len(pair[0]))


def validation_details(errors) -> list[dict]:
    """pydantic's validation errors as ``details`` entries (at most 100): field and expectation."""
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "expected": e.get("msg", "")}
        for e in errors[:100]
    ]


class ApiError(Exception):
    """Raise from a handler to answer with the error shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: list | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message = status, message
        self.code = code or CODES.get(status, "error")
        self.details, self.headers = details, headers


def error_body(status: int, code: str, message: str, details: list | None = None) -> dict:
    body = {"status": status, "code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(
        error_body(exc.status, exc.code, exc.message, exc.details),
        status_code=exc.status,
        headers=exc.headers,
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError):
        return error_response(
            ApiError(
                exc.status,
                public_message(request, exc.message),
                code=exc.code,
                details=exc.details,
                headers=exc.headers,
            )
        )

    @app.exception_handler(TrustShieldError)
    async def _ours(request: Request, exc: TrustShieldError):
        status, code = next((s, c) for kind, s, c in STATUS_OF if isinstance(exc, kind))
        return error_response(ApiError(status, public_message(request, str(exc)), code=code))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        return error_response(
            ApiError(
                422,
                SCHEMA_MISMATCH,
                code="invalid_request",
                details=validation_details(exc.errors()),
            )
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return error_response(
            ApiError(
                exc.status_code,
                public_message(request, str(exc.detail)),
                headers=getattr(exc, "headers", None),
            )
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception):
        request_id = uuid.uuid4().hex[:12]
        log.exception(
            "request %s %s failed (request id %s)", request.method, request.url.path, request_id
        )
        return error_response(
            ApiError(
                500,
                f"internal error (request id {request_id}); the server log has the details",
                code="internal",
            )
        )
