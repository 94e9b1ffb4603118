"""Incidents: host behaviour grouped per host (:mod:`trustshield.store.incidents`), listed,
read with their evidence, and reviewed like alerts.

``GET /v1/incidents`` lists them most severe first, then newest first, filtered by
severity, review status, host, ATT&CK technique, model and time (``since``/``until``:
incidents active in that span); ``GET /v1/incidents/{id}`` answers one with its behaviours
(evidence in words, exact attributions), evidence uids, the host's timeline and each
beacon's interval histogram; ``GET /v1/incidents/{id}/flows`` pages through its evidence
flows. ``POST /v1/incidents/{id}/review`` (analyst) confirms or dismisses it, audited as
``incident.review``; ``trustshield train --kind behaviour --store`` uses the outcomes as
labels. A query parameter an endpoint does not take is refused with 422.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from trustshield.service.access import Caller, requires
from trustshield.service.api_alerts import ReviewDecision
from trustshield.service.paging import page_json
from trustshield.service.query_check import known_query_only
from trustshield.store.incidents import IncidentFilter

router = APIRouter(prefix="/v1", tags=["incidents"], dependencies=[Depends(known_query_only)])
Severity = Literal["high", "medium", "low"]
Status = Literal["open", "confirmed", "dismissed"]
TECHNIQUE = r"^T[0-9]{4}(\.[0-9]{3})?$"


class Channel(BaseModel):
    dst: str
    dport: int
    proto: str


class BehaviourItem(BaseModel):
    name: str = Field(description="beacon, horizontal scan, vertical scan, flood, ...")
    techniques: list[str]
    channel: Channel
    first_seen: str = Field(description="first evidence flow, ISO 8601 UTC")
    last_seen: str
    n_flows: int = Field(description="evidence flows of this behaviour")
    evidence: str = Field(description="the measured evidence in words")
    detector: str
    suspicion: float = Field(description="of its most suspicious window; higher = more")
    attributions: dict[str, float] = Field(
        description="exact: ``base`` plus the features' values sum to ``suspicion``"
    )


class IncidentSummary(BaseModel):
    incident_id: str
    model_id: str
    host: str
    first_seen: datetime
    last_seen: datetime
    raised_at: datetime = Field(description="when its first flagged window could be reported")
    severity: str
    techniques: list[str]
    behaviours: list[BehaviourItem]
    n_evidence: int = Field(description="evidence flows")
    detector: str
    suspicion: float
    status: str = Field(description="open, confirmed or dismissed")


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class Timeline(BaseModel):
    """The host's connections per bucket from ``start`` (s since the epoch), each
    ``width_s`` long; ``evidence`` of them are evidence flows."""

    start: float
    width_s: float
    total: list[int]
    evidence: list[int]


class IntervalHistogram(BaseModel):
    """Seconds between consecutive evidence flows of one beacon: ``counts[i]`` in
    ``[edges[i], edges[i+1])``."""

    behaviour: str
    channel: str
    edges: list[float]
    counts: list[int]
    median_s: float


class IncidentDetail(IncidentSummary):
    source: str | None = Field(description="the conn log it was detected in")
    base: float
    attributions: dict[str, float] = Field(
        description="of the behaviour that raised it: base + Σ values = suspicion (exact)"
    )
    evidence_uids: list[str]
    timeline: Timeline
    histograms: list[IntervalHistogram]
    comment: str | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    created_at: datetime | None


class EvidenceFlow(BaseModel):
    uid: str
    ts: float = Field(description="connection start, s since the epoch (UTC)")
    dst: str
    dport: int
    proto: str
    conn_state: str
    behaviour: str


class FlowPage(BaseModel):
    incident_id: str
    items: list[EvidenceFlow]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class IncidentDecision(ReviewDecision):
    pass  # an analyst's decision on an incident: the same fields as on an alert


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)  # naive means UTC


@router.get("/incidents", response_model=IncidentPage)
def list_incidents(
    request: Request,
    severity: Severity | None = None,
    status: Status | None = None,
    host: str | None = Query(None, max_length=256, description="the host's address"),
    technique: str | None = Query(None, pattern=TECHNIQUE, description="ATT&CK id, e.g. T1071"),
    model_id: str | None = Query(None, max_length=100),
    since: datetime | None = Query(None, description="active at or after (ISO 8601; UTC)"),
    until: datetime | None = Query(None, description="active before (ISO 8601; UTC)"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10**9),
    caller: Caller = Depends(requires("incidents.list")),
) -> dict:
    """Incidents matching every given filter, most severe first, then newest first."""
    where = IncidentFilter(severity, status, host, technique, model_id, _utc(since), _utc(until))
    with request.app.state.context.read() as store:
        items, total = store.incidents.page(where, limit=limit, offset=offset)
    return page_json(items, total, limit, offset)


def incident_detail(context, incident_id: str) -> dict:
    with context.read() as store:
        return store.incidents.get(incident_id)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
def get_incident(
    incident_id: str, request: Request, caller: Caller = Depends(requires("incidents.get"))
) -> dict:
    return incident_detail(request.app.state.context, incident_id)


@router.get("/incidents/{incident_id}/flows", response_model=FlowPage)
def incident_flows(
    incident_id: str,
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=10**9),
    caller: Caller = Depends(requires("incidents.get")),
) -> dict:
    """The incident's evidence flows in time order."""
    with request.app.state.context.read() as store:
        store.incidents.get(incident_id)  # 404 for an unknown incident
        total = store.incidents.flow_count(incident_id)
        items = store.incidents.flows(incident_id, limit=limit, offset=offset)
    return page_json(items, total, limit, offset, incident_id=incident_id)


@router.post("/incidents/{incident_id}/review", response_model=IncidentDetail)
def review_incident(
    incident_id: str,
    body: IncidentDecision,
    request: Request,
    caller: Caller = Depends(requires("incidents.review")),
) -> dict:
    """Confirm (an attack) or dismiss (not one) an incident; audited as
    ``incident.review``."""
    with request.app.state.context.write(caller.actor) as store:
        return store.incidents.decide(incident_id, body.outcome, body.comment)
