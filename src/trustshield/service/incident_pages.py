"""Dashboard pages for incidents (included by :mod:`trustshield.service.dashboard`).

=========================  ================================  ============================
page                       shows (its /v1 equivalent)        needs (``PERMISSIONS``)
=========================  ================================  ============================
/ui/incidents              GET /v1/incidents                 incidents.list
/ui/incidents/{id}         GET /v1/incidents/{id}            incidents.get (review:
                                                             incidents.review)
/ui/incidents/{id}/flows   GET /v1/incidents/{id}/flows      incidents.get
=========================  ================================  ============================

The list is most severe first, then newest first. An incident's page shows its behaviours
with their evidence in words, exact attributions, the host's timeline (connections over
the incident, evidence flows highlighted) and the interval histogram of each beacon, as
server-rendered SVG. A review calls the same function as ``POST
/v1/incidents/{id}/review`` and is audited the same way (``incident.review``).
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from trustshield.errors import TrustShieldError
from trustshield.service import api_incidents
from trustshield.service.pages import (
    Format,
    error_page,
    first_problem,
    form_fields,
    form_gate,
    page,
    page_again,
    status_of,
)

router = APIRouter()
PAGE_SIZE = 25
FLOW_PAGE = 100
SEVERITIES = ("high", "medium", "low")
STATUSES = ("open", "confirmed", "dismissed")


@router.get("/incidents")
def incidents_page(
    request: Request,
    severity: Literal["", "high", "medium", "low"] = "",
    status: Literal["", "open", "confirmed", "dismissed"] = "",
    host: str = Query("", max_length=256),
    offset: int = Query(0, ge=0, le=10**9),
    format: Format = "html",
) -> Response:
    form = {"severity": severity, "status": status, "host": host.strip()}

    def build(caller):
        return api_incidents.list_incidents(
            request,
            severity=severity or None,
            status=status or None,
            host=form["host"] or None,
            technique=None,
            model_id=None,
            since=None,
            until=None,
            limit=PAGE_SIZE,
            offset=offset,
            caller=caller,
        )

    return page(
        request,
        "incidents.list",
        "incidents.html",
        format,
        build,
        api="GET /v1/incidents",
        model=api_incidents.IncidentPage,
        form=form,
        severities=SEVERITIES,
        statuses=STATUSES,
    )


@router.get("/incidents/{incident_id}")
def incident_page(
    incident_id: str,
    request: Request,
    notice: str = Query("", max_length=40),
    format: Format = "html",
) -> Response:
    return page(
        request,
        "incidents.get",
        "incident.html",
        format,
        lambda caller: api_incidents.incident_detail(request.app.state.context, incident_id),
        api=f"GET /v1/incidents/{incident_id}",
        model=api_incidents.IncidentDetail,
        notice=notice,
        error="",
    )


@router.get("/incidents/{incident_id}/flows")
def incident_flows_page(
    incident_id: str,
    request: Request,
    offset: int = Query(0, ge=0, le=10**9),
    format: Format = "html",
) -> Response:
    def build(caller):
        return api_incidents.incident_flows(
            incident_id, request, limit=FLOW_PAGE, offset=offset, caller=caller
        )

    return page(
        request,
        "incidents.get",
        "incident_flows.html",
        format,
        build,
        api=f"GET /v1/incidents/{incident_id}/flows",
        model=api_incidents.FlowPage,
    )


@router.post("/incidents/{incident_id}/review")
def review_incident(
    incident_id: str, request: Request, form: dict = Depends(form_fields)
) -> Response:
    caller = form_gate(request, "incidents.review", form)
    if isinstance(caller, Response):
        return caller
    try:
        decision = api_incidents.IncidentDecision(
            outcome=form.get("outcome", ""), comment=form.get("comment", "").strip()
        )
        done = api_incidents.review_incident(incident_id, decision, request, caller)
    except ValidationError as exc:
        return page_again(
            request,
            caller,
            "incident.html",
            lambda: api_incidents.incident_detail(request.app.state.context, incident_id),
            api_incidents.IncidentDetail,
            api=f"GET /v1/incidents/{incident_id}",
            status=422,
            error=first_problem(exc),
        )
    except TrustShieldError as exc:
        return error_page(request, caller, status_of(exc), str(exc))
    return RedirectResponse(
        f"/ui/incidents/{quote(incident_id, safe='')}?notice={done['status']}", status_code=303
    )
