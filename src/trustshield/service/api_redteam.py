"""Red-team endpoints: attack the active (signed, registered) model, gated and audited.

Only tokens holding ``red-team`` get here (``admin`` does not imply it). A run needs a
declared purpose; a blank one is refused and the refusal audited (``redteam.refused``).
The run's parameters, summary and generated examples (feature space only) are stored with
a ``redteam.run`` event; the response carries the summary, never the examples. The
evasion attacks move tabular features: with a text model active the run is refused
(422 ``not_tabular``, audited); a payload model's rewrite evasion is
``trustshield payloads evade``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from trustshield.decide.text_model import TextModel
from trustshield.service.access import Caller, requires
from trustshield.service.batches import problem_details, read_records
from trustshield.service.errors import ApiError
from trustshield.service.scoring_work import Value

router = APIRouter(prefix="/v1/redteam", tags=["red team"])
NO_PURPOSE = "a red-team run needs a declared purpose (non-blank text saying why it is run)"
TEXT_MODEL = (
    "the active model {model_id} is a {kind} model: these evasion attacks move the "
    "features of tabular models; measure a payload model's evasion by rewrites with "
    "`trustshield payloads evade` (red-team gated) instead"
)


class EvadeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    purpose: str = Field(max_length=500)
    records: list[dict[str, Value]] = Field(
        min_length=1, max_length=200, description="labelled records of the model's spec"
    )
    attack: Literal["score", "decision", "tree", "all"] = "all"
    max_records: int = Field(20, ge=1, le=200)
    max_features: int = Field(3, ge=1, le=10)
    max_factor: float = Field(2.0, ge=1.0, le=10.0)
    seed: int = Field(0, ge=0, le=2**31)


class RunSummary(BaseModel):
    run_id: str
    kind: str
    model_id: str
    purpose: str
    summary: Any


@router.post("/evade", response_model=RunSummary, status_code=201)
def evade(
    body: EvadeRequest, request: Request, caller: Caller = Depends(requires("redteam.evade"))
) -> dict:
    from trustshield.pipeline.redteam import run_evasion

    context = request.app.state.context
    model = context.model
    if model is None:
        raise ApiError(503, "no active model to attack")
    if isinstance(model, TextModel):
        reason = TEXT_MODEL.format(model_id=model.model_id, kind=model.kind)
        with context.write(caller.actor) as store:
            store.record_event("redteam.refused", model.model_id, {"reason": reason})
        raise ApiError(422, reason, code="not_tabular")
    if not body.purpose.strip():
        with context.write(caller.actor) as store:
            store.record_event("redteam.refused", model.model_id, {"reason": NO_PURPOSE})
        raise ApiError(422, NO_PURPOSE, code="no_purpose")
    batch = read_records(body.records, model.spec)
    if batch.problems:
        raise ApiError(
            422,
            "problems in the records; nothing was run",
            code="invalid_records",
            details=problem_details(batch.problems),
        )
    started = datetime.now(timezone.utc)
    available = _flagged_attacks(model, batch.frame)
    if available == 0:
        raise ApiError(
            422,
            "none of the records is a labelled attack record the model flags; "
            "there is nothing to evade",
            code="nothing_to_attack",
        )
    result = run_evasion(
        model,
        batch.frame,
        attack=body.attack,
        records=min(body.max_records, available),
        max_features=body.max_features,
        max_factor=body.max_factor,
        seed=body.seed,
    )
    run_id = uuid.uuid4().hex[:16]
    with context.write(caller.actor) as store:
        store.redteam.save(
            run_id=run_id,
            kind="evade",
            model_id=model.model_id,
            purpose=body.purpose.strip(),
            parameters=result.parameters,
            summary=result.summary,
            started_at=started,
            finished_at=datetime.now(timezone.utc),
            status="complete",
            examples=result.examples,
            audit={"via": "service"},
        )
    return {
        "run_id": run_id,
        "kind": "evade",
        "model_id": model.model_id,
        "purpose": body.purpose.strip(),
        "summary": result.summary,
    }


@router.get("/runs", response_model=list[RunSummary])
def runs(request: Request, caller: Caller = Depends(requires("redteam.runs"))) -> list[dict]:
    with request.app.state.context.read() as store:
        return store.redteam.runs()


def _flagged_attacks(model, frame) -> int:
    """How many labelled attack records of ``frame`` the model flags."""
    from trustshield.assess.robustness.evasion import ModelTarget

    label = model.spec.label_column
    if label not in frame.columns:
        raise ApiError(
            422, f"red-team records need the label column {label!r}", code="invalid_records"
        )
    attacks = frame[frame[label].to_numpy(dtype=object) != model.spec.normal_label]
    return int((~ModelTarget(model).allows(attacks)).sum()) if len(attacks) else 0
