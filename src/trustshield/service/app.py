"""The FastAPI application: routers, the error shape, security headers and metrics.

``create_app(settings)`` opens the store, loads and verifies the active model and answers
on ``/v1`` (API), ``/ui`` (dashboard pages) and ``/openapi.json``. Every response carries
headers that keep pages out of frames and caches; every request is counted by status.
"""

from __future__ import annotations

import contextlib
import time
from importlib.metadata import version

from fastapi import FastAPI

from trustshield.service import (
    api_alerts,
    api_audit,
    api_drift,
    api_incidents,
    api_metrics,
    api_models,
    api_redteam,
    api_scoring,
    api_tokens,
    dashboard,
)
from trustshield.service.errors import install_handlers
from trustshield.service.limits import BodyLimits
from trustshield.service.settings import ServiceSettings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; "
        "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
    ),
}

#: every /v1 endpoint lives on one of these
API_ROUTERS = tuple(
    m.router
    for m in (
        api_scoring,
        api_alerts,
        api_incidents,
        api_drift,
        api_models,
        api_audit,
        api_metrics,
        api_redteam,
        api_tokens,
    )
)


class HeadersAndCounts:
    """Plain ASGI middleware: adds :data:`SECURITY_HEADERS` to every response and counts
    it in the app's metrics (method, the route template that answered, status, seconds to
    the response's start; :mod:`trustshield.service.metrics`), without re-streaming bodies.
    It wraps the whole application (see :class:`TrustShieldApp`), so the 500 answered for
    an unhandled exception is counted and carries the headers too."""

    def __init__(self, app):
        self.app = app
        self.raw_headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        self.names = {k for k, _ in self.raw_headers}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        started = time.perf_counter()

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in self.names
                ]
                message = {**message, "headers": kept + self.raw_headers}
                metrics = getattr(scope["app"].state.context, "metrics", None)
                if metrics is not None:
                    metrics.observe_response(
                        scope["method"],
                        getattr(scope.get("route"), "path", None),
                        message["status"],
                        time.perf_counter() - started,
                    )
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TrustShieldApp(FastAPI):
    """FastAPI with :class:`HeadersAndCounts` outside every other middleware (Starlette puts
    added middleware inside the one that answers unhandled exceptions)."""

    def build_middleware_stack(self):
        return HeadersAndCounts(super().build_middleware_stack())


def create_app(settings: ServiceSettings, *, context=None) -> FastAPI:
    """The service app; ``context`` (a ServiceContext) may be given by tests."""
    from trustshield.service.context import ServiceContext

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        """Open a context when none was given; close only what was opened here."""
        if context is not None:
            yield
            return
        app.state.context = ServiceContext(settings)
        try:
            yield
        finally:
            app.state.context.close()
            app.state.context = None

    app = TrustShieldApp(
        title="TrustShield",
        version=version("trustshield"),
        lifespan=lifespan,
        description="Scores network records with explained, audited "
        "decisions. Every endpoint but /v1/health needs a bearer "
        "token.",
    )
    app.state.context = context
    install_handlers(app)
    for router in API_ROUTERS:
        app.include_router(router)
    app.include_router(dashboard.router)

    app.add_middleware(BodyLimits, routers=API_ROUTERS)  # HeadersAndCounts wraps it too
    return app
