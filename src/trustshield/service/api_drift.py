"""GET /v1/drift: the drift of detection runs, window by window.

Each window is a run of records a detection (``detect``, ``watch``) compared with its
model's drift reference (:mod:`trustshield.store.drift_events`): its records (as lines of
the input), the verdict (``level``: none, moderate or major), the largest feature PSI,
the PSI of the suspicion and the change in alert rate, and the features that moved most.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from trustshield.service.access import Caller, requires
from trustshield.service.query_check import known_query_only

router = APIRouter(prefix="/v1", tags=["drift"], dependencies=[Depends(known_query_only)])
Level = Literal["none", "moderate", "major"]


class FeatureMove(BaseModel):
    name: str
    kind: str | None = None
    psi: float | None = Field(None, description="population stability index")
    ks: float | None = Field(None, description="Kolmogorov-Smirnov statistic (numbers only)")
    level: str | None = None


class DriftWindow(BaseModel):
    event_id: str
    run_id: str
    model_id: str
    window_index: int
    first_line: int
    last_line: int
    n_records: int
    max_feature_psi: float | None
    output_psi: float | None = Field(description="PSI of the suspicion")
    alert_rate_change: float | None = Field(description="window minus training alert rate")
    level: str = Field(description="the verdict: none, moderate or major")
    top_features: list[FeatureMove]
    created_at: datetime | None


class DriftPage(BaseModel):
    items: list[DriftWindow]
    total: int
    levels: dict[str, int] = Field(description="windows per verdict, among those listed")


def drift_windows(context, model_id: str | None, level: str | None, limit: int) -> dict:
    with context.read() as store:
        items, total = store.drift.windows(model_id=model_id, level=level, limit=limit)
    levels = {name: 0 for name in ("none", "moderate", "major")}
    for item in items:
        levels[item["level"]] = levels.get(item["level"], 0) + 1
    return {"items": items, "total": total, "levels": levels}


@router.get("/drift", response_model=DriftPage)
def list_drift(
    request: Request,
    model_id: str | None = Query(None, max_length=100),
    level: Level | None = None,
    limit: int = Query(200, ge=1, le=1000),
    caller: Caller = Depends(requires("drift.list")),
) -> dict:
    """The latest drift windows, newest run first."""
    return drift_windows(request.app.state.context, model_id, level, limit)
