"""``GET /v1/metrics``: the service's Prometheus metrics (:mod:`trustshield.service.metrics`).

The endpoint keeps the bearer-token check it always had (roles ``auditor`` and ``admin``):
the figures show traffic volume by route and status, refusals, the scoring capacity and the
rate limits in force, which tell a caller probing the service how hard it may push and
whether its probes show. Prometheus sends the token with ``authorization`` in its scrape
configuration.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from trustshield.service.access import Caller, requires

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus exposition"}},
)
def metrics(request: Request, caller: Caller = Depends(requires("metrics"))) -> Response:
    """Counters, histograms and gauges in the Prometheus text format (OpenMetrics when the
    ``Accept`` header asks for it)."""
    body, content_type = request.app.state.context.metrics.render(request.headers.get("accept"))
    return Response(body, media_type=content_type)
