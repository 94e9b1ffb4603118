"""The audit chain, service settings, retention, abuse flags and health (metrics:
:mod:`trustshield.service.api_metrics`)."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from trustshield.service import abuse, access
from trustshield.service.access import Caller, requires
from trustshield.service.errors import ApiError

router = APIRouter(prefix="/v1", tags=["audit"])


class AuditEvent(BaseModel):
    seq: int
    at: str | None
    actor: str | None
    action: str | None
    subject: str | None
    details: Any
    prev_hash: str | None
    hash: str | None


class AuditPage(BaseModel):
    items: list[AuditEvent]
    next_after: int | None


class ChainReport(BaseModel):
    """:class:`trustshield.store.audit.ChainCheck` as JSON."""

    ok: bool
    events: int
    first_broken: int | None
    reason: str | None
    keyed: bool
    problem: str | None
    remedy: str | None
    key_fingerprint: str
    head_key_fingerprint: str | None
    last_seq: int | None
    last_hash: str | None


class SettingsUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pseudonymise: bool | None = None
    retention_days: int | None = Field(None, ge=1, le=36_500)


class Health(BaseModel):
    """Without a token only ``status``; with a token allowed ``models.list`` also the
    active model and the uptime (seconds)."""

    status: str
    active_model: str | None = None
    uptime_s: float | None = None


class Lift(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="why the throttle ends")


@router.get("/audit", response_model=AuditPage)
def list_audit(
    request: Request,
    action: str | None = Query(None, max_length=100),
    subject: str | None = Query(None, max_length=200),
    after: int = Query(0, ge=0, le=2**62),
    limit: int = Query(100, ge=1, le=1000),
    caller: Caller = Depends(requires("audit.list")),
) -> dict:
    """Events in order, ``limit`` at a time after seq ``after``."""
    with request.app.state.context.read() as store:
        items = store.audit.events(action, subject=subject, after=after, limit=limit)
    return {"items": items, "next_after": items[-1]["seq"] if len(items) == limit else None}


@router.get("/audit/verify", response_model=ChainReport)
def verify_audit(request: Request, caller: Caller = Depends(requires("audit.verify"))) -> dict:
    """Recompute the whole chain; ``first_broken`` is the first event that does not hold."""
    with request.app.state.context.read() as store:
        check = store.audit.check()
    return dataclasses.asdict(check)


@router.get("/settings")
def get_settings(request: Request, caller: Caller = Depends(requires("settings.get"))) -> dict:
    context = request.app.state.context
    with context.read():
        stored = context.options.all()
    return {
        "pseudonymise": stored.get("pseudonymise", context.settings.pseudonymise),
        "retention_days": stored.get("retention_days", context.settings.retention_days),
        "active_model": stored.get("active_model"),
    }


@router.put("/settings")
def update_settings(
    body: SettingsUpdate, request: Request, caller: Caller = Depends(requires("settings.update"))
) -> dict:
    """Change settings; each change is audited as ``config.change``."""
    context = request.app.state.context
    if body.pseudonymise:
        from trustshield.service.privacy import Pseudonymiser

        Pseudonymiser.from_env()  # refuse to switch on without a usable key
    with context.write(caller.actor):
        for key, value in body.model_dump(exclude_unset=True).items():
            context.options.set(key, value)
    return get_settings(request, caller)


@router.post("/retention/apply")
def apply_retention_now(
    request: Request, caller: Caller = Depends(requires("retention.apply"))
) -> dict:
    """Delete alerts older than the retention setting (audited as ``retention.delete``)."""
    return request.app.state.context.apply_retention(caller.actor)


@router.get("/abuse")
def list_abuse(request: Request, caller: Caller = Depends(requires("abuse.list"))) -> dict:
    """Tokens the probing monitor flagged (and the service throttled)."""
    context = request.app.state.context
    with context.read() as store:
        events = store.audit.events("abuse.flagged")
    return {"throttled": sorted(context.throttled), "events": events}


@router.post("/abuse/{token_id}/lift")
def lift_throttle(
    body: Lift,
    request: Request,
    token_id: str = Path(min_length=1, max_length=64),
    caller: Caller = Depends(requires("abuse.lift")),
) -> dict:
    """End the throttle of a flagged token (audited as ``abuse.lift``); 404 when it is
    not throttled."""
    lifted = abuse.lift(
        request.app.state.context, token_id, actor=caller.actor, reason=body.reason.strip()
    )
    return {"token_id": token_id, "lifted": True, **lifted}


@router.get(
    "/health",
    response_model=Health,
    response_model_exclude_none=True,
    responses={503: {"model": Health}},
)
def health(request: Request, response: Response) -> dict:
    """Public: ``{"status": "ok"}``, or ``"degraded"`` with HTTP 503 while a scoring worker
    is starting or being replaced (scoring may answer 503 meanwhile). A token that may list
    models also sees the active model and the uptime; a missing or bad token just does not."""
    context = request.app.state.context
    scorer = context.scorer
    degraded = scorer is not None and not scorer.healthy
    if degraded:
        response.status_code = 503
    answer = {"status": "degraded" if degraded else "ok"}
    if access.presented_token(request) is None:
        return answer
    try:
        access.authorise(request, "models.list")
    except ApiError:
        return answer
    return {
        **answer,
        "active_model": context.model.model_id if context.model else None,
        "uptime_s": round(time.time() - context.started, 3),
    }
