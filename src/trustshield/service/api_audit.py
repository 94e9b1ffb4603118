"""The audit chain, service settings, retention, abuse flags, health and metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import BaseModel, Field

from trustshield.service.access import Caller, requires

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
    ok: bool
    events: int
    first_broken: int | None
    reason: str | None
    keyed: bool


class SettingsUpdate(BaseModel):
    pseudonymise: bool | None = None
    retention_days: int | None = Field(None, ge=1, le=36_500)


class Health(BaseModel):
    status: str
    active_model: str | None
    uptime_s: float


@router.get("/audit", response_model=AuditPage)
def list_audit(request: Request, action: str | None = Query(None, max_length=100),
               subject: str | None = Query(None, max_length=200),
               after: int = Query(0, ge=0, le=2**62), limit: int = Query(100, ge=1, le=1000),
               caller: Caller = Depends(requires("audit.list"))) -> dict:
    """Events in order, ``limit`` at a time after seq ``after``."""
    with request.app.state.context.read() as store:
        items = store.audit.events(action, subject=subject, after=after, limit=limit)
    return {"items": items, "next_after": items[-1]["seq"] if len(items) == limit else None}


@router.get("/audit/verify", response_model=ChainReport)
def verify_audit(request: Request, caller: Caller = Depends(requires("audit.verify"))) -> dict:
    """Recompute the whole chain; ``first_broken`` is the first event that does not hold."""
    with request.app.state.context.read() as store:
        check = store.audit.check()
    return {"ok": check.ok, "events": check.events, "first_broken": check.first_broken,
            "reason": check.reason, "keyed": check.keyed}


@router.get("/settings")
def get_settings(request: Request, caller: Caller = Depends(requires("settings.get"))) -> dict:
    context = request.app.state.context
    with context.read():
        stored = context.options.all()
    return {"pseudonymise": stored.get("pseudonymise", context.settings.pseudonymise),
            "retention_days": stored.get("retention_days", context.settings.retention_days),
            "active_model": stored.get("active_model")}


@router.put("/settings")
def update_settings(body: SettingsUpdate, request: Request,
                    caller: Caller = Depends(requires("settings.update"))) -> dict:
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
def apply_retention_now(request: Request,
                        caller: Caller = Depends(requires("retention.apply"))) -> dict:
    """Delete alerts older than the retention setting (audited as ``retention.delete``)."""
    return request.app.state.context.apply_retention(caller.actor)


@router.get("/abuse")
def list_abuse(request: Request, caller: Caller = Depends(requires("abuse.list"))) -> dict:
    """Tokens the probing monitor flagged (and the service throttled)."""
    context = request.app.state.context
    with context.read() as store:
        events = store.audit.events("abuse.flagged")
    return {"throttled": sorted(context.throttled), "events": events}


@router.get("/health", response_model=Health, responses={503: {"model": Health}})
def health(request: Request, response: Response) -> dict:
    """``ok``; or ``degraded`` with HTTP 503 while a scoring worker is starting or being
    replaced (scoring may answer 503 meanwhile)."""
    context = request.app.state.context
    scorer = context.scorer
    degraded = scorer is not None and not scorer.healthy
    if degraded:
        response.status_code = 503
    return {"status": "degraded" if degraded else "ok",
            "active_model": context.model.model_id if context.model else None,
            "uptime_s": round(time.time() - context.started, 3)}


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request, caller: Caller = Depends(requires("metrics"))) -> str:
    """Counters in the Prometheus text format."""
    counters = request.app.state.context.counters
    lines = []
    for name, value in sorted(counters.items()):
        metric = "trustshield_" + name.replace(".", "_").replace(" ", "_")
        lines += [f"# TYPE {metric} counter", f"{metric} {value}"]
    return "\n".join(lines) + "\n"
