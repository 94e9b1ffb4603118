"""POST /v1/score: a batch of records → decisions, suspicion, exact attributions, rationale.

Flagged records (``alert`` and ``review``) are stored as alerts (with the identities the
records named, pseudonymised by the store when it is configured for it), ``review`` ones also
enter the review queue, and the batch is audited as ``score.batch``, all in one
transaction. Each flagged result carries its top attributions plus ``others`` (the sum of
the rest) so that ``base + Σ top + others`` equals its suspicion exactly; with a text model
(payloads, domain names) active, every result carries the text and one term per character
(``base + Σ characters`` = suspicion; :mod:`trustshield.service.text_scoring`). The caller's
query stream goes through the probing monitor; a flagged token is audited and throttled
(:mod:`trustshield.service.abuse`).

Rate limits are charged before any work: the body's records are counted from its shape
alone (:func:`~trustshield.service.scoring_work.records_in`) and taken from the token's
bucket; a token over its rate (or throttled) gets 429 and nothing is validated or
scored. What was charged is not refunded when the records are then refused as invalid:
validating costs work too, and a refund would let a client probe validation for free.
A refused batch (422, 413 or 429) is audited like any refusal: noted in the aggregated
``access.refused`` events (:mod:`trustshield.service.refusals`), so a flood of them costs
the audit log a few events.
"""

from __future__ import annotations

import time

import numpy as np
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from trustshield.service import abuse
from trustshield.service.access import Caller, note_refusal, requires
from trustshield.service.errors import ApiError
from trustshield.service.scoring_work import ScoredRequest, ScoreRequest, records_in

#: refused batches noted in the aggregated ``access.refused`` audit events (kind = the
#: error code: ``invalid_records``, ``too_large``, ``rate_limited``...; endpoint ``score``)
AUDITED_REFUSALS = (413, 422, 429)

router = APIRouter(prefix="/v1", tags=["scoring"])


class Contribution(BaseModel):
    feature: str
    contribution: float


class ScoredRecord(BaseModel):
    index: int
    action: str = Field(description="alert, review or allow")
    suspicion: float = Field(description="higher = more suspicious")
    alert_id: str | None = None
    category: str | None = None
    technique: str | None = None
    rationale: str | None = None
    base: float | None = None
    attributions: list[Contribution] | None = None
    others: float | None = None
    text: str | None = Field(None, description="a text model's input as scored")
    characters: list[float] | None = Field(
        None,
        description="a text model: one term per character of text; "
        "base + sum(characters) = suspicion",
    )


class ScoreResponse(BaseModel):
    model_id: str
    batch_id: str
    records: int
    alerts_returned: int
    results: list[ScoredRecord]


@router.post(
    "/score",
    response_model=ScoreResponse,
    response_model_exclude_none=True,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ScoreRequest.model_json_schema()}},
        }
    },
)
async def score(request: Request, caller: Caller = Depends(requires("score"))) -> Response:
    """Parsing, validating, scoring and rendering run off the event loop (in worker processes
    when the service has them); storing and watching run in a thread. The body's schema is
    :class:`ScoreRequest`."""
    context = request.app.state.context
    if context.model is None:
        raise ApiError(
            503,
            "no active model: upload a signed model (POST /v1/models) and "
            "activate it (POST /v1/models/{id}/activate)",
        )
    started = time.perf_counter()
    raw = await request.body()
    try:
        records = await run_in_threadpool(records_in, raw, max_batch=context.settings.max_batch)
        _charge(context, caller, records)
        scored = await context.scorer.score(raw, max_batch=context.settings.max_batch)
        response = await run_in_threadpool(_finish, context, caller, scored)
    except ApiError as refused:
        if refused.status in AUDITED_REFUSALS:
            note_refusal(request, refused.code, refused.status, "score", caller.token_id)
        raise
    context.metrics.score_seconds.observe(time.perf_counter() - started)
    return response


def _charge(context, caller: Caller, records: int) -> None:
    """Take ``records`` from the caller's bucket; 429 (with Retry-After) when it does not
    hold them, 413 when the batch exceeds the token's burst and can never pass."""
    allowance = context.limiter.allow(caller.token_id, cost=records)
    if allowance.allowed:
        return
    context.metrics.records_refused.labels("rate_limit").inc(records)
    if np.isinf(allowance.retry_after_s):
        raise ApiError(
            413,
            f"{records} records in one batch; this token may send at most "
            f"{context.limiter.burst:.0f} at once",
            code="too_large",
        )
    raise ApiError(
        429,
        f"rate limit exceeded for this token; retry after {allowance.retry_after_s:.1f} s",
        headers={"Retry-After": str(max(1, int(np.ceil(allowance.retry_after_s))))},
    )


def _finish(context, caller: Caller, scored: ScoredRequest) -> Response:
    """Refuse, or store, audit and watch one scored batch (already charged)."""
    if scored.refusal:
        status, code, message, details = scored.refusal
        raise ApiError(status, message, code=code, details=details)
    table = scored.table
    _store(context, caller, scored, table)
    _watch(context, caller, scored)
    context.metrics.records_scored.inc(scored.records)
    context.metrics.alerts.inc(table.num_rows)
    return Response(scored.body, media_type="application/json")


def _store(context, caller: Caller, scored: ScoredRequest, table) -> None:
    with context.write(caller.actor) as store:
        # ids carry the batch's fresh uuid; entities pseudonymised; review-band ones queued
        written = store.insert_alerts(table)
        store.record_event(
            "score.batch",
            scored.batch_id,
            {
                "model_id": scored.model_id,
                "records": scored.records,
                "alerts": int(table.num_rows),
                "queued_for_review": written.reviews,
            },
        )


def _watch(context, caller: Caller, scored: ScoredRequest) -> None:
    verdict = context.monitor.observe(
        caller.token_id, scored.features, scored.margin, time.monotonic()
    )
    if verdict.flagged and caller.token_id not in context.throttled:
        abuse.flag(context, caller, verdict)
