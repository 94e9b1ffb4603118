"""The CPU-bound part of ``POST /v1/score``, runnable in the service process or in worker
processes (Python runs one thread at a time per process, so a pool of workers is how one
service uses several cores).

:func:`score_request` is pure: the raw JSON body and a model in, a :class:`ScoredRequest`
out, holding everything the service still has to do (store the alerts, queue reviews,
watch the query stream) and the response body already rendered. Refusals (bad JSON, bad
records, too many records) come back as ``refusal`` instead of being raised, so they cross
process boundaries as plain data. :func:`records_in` is the cheap check the service makes
before any of that: the body's shape and its number of records, so that a batch is
counted (and rate-limited) before it costs any validation or scoring.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from typing import Union

import numpy as np
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trustshield.ingest.tabular import Batch
from trustshield.model_folder import ModelFiles, TextModel
from trustshield.pipeline.detect import alerts_table
from trustshield.pipeline.scoring import score_batch
from trustshield.records import REVIEW
from trustshield.service.batches import problem_details, read_records
from trustshield.service.errors import SCHEMA_MISMATCH, ApiError, validation_details
from trustshield.workers.pool import WorkerLost, WorkerPool

TOP_ATTRIBUTIONS = 10
RETRY_AFTER_S = 2  # seconds a client waits before retrying while a worker restarts
Value = Union[float, int, str, bool, None]


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an unknown top-level key is refused

    records: list[dict[str, Value]] = Field(
        min_length=1,
        description="records with the active model's spec columns (a text model: its one "
        "text field, 'payload' or 'domain', as a string); optional "
        "identity fields src_ip, dst_ip, user and the record's own time ts (seconds "
        "since the Unix epoch), kept as the alert's entities and event time",
    )


NOT_JSON = "the body is not JSON ({error})"
BAD_ENVELOPE = "the body must be a JSON object holding only 'records'"
TOO_MANY = "{n} records in one batch; at most {max_batch}"


def records_in(raw: bytes, *, max_batch: int) -> int:
    """The number of records in a score body, from its shape alone (no record is
    validated); ApiError 422 when the body is not ``{"records": [...]}`` with 1 or more
    records, 413 beyond ``max_batch``. Costs one JSON parse (~10 ms per MB)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, nesting
        raise ApiError(
            422,
            NOT_JSON.format(error=str(exc)[:200]),
            code="invalid_request",
            details=[{"field": "body", "expected": "a JSON object"}],
        ) from None
    if not isinstance(body, dict):
        raise ApiError(
            422,
            BAD_ENVELOPE,
            code="invalid_request",
            details=[{"field": "body", "expected": 'a JSON object {"records": [...]}'}],
        )
    details = [
        {"field": str(key)[:80], "expected": "no such field: the body holds only 'records'"}
        for key in sorted(body)
        if key != "records"
    ][:20]
    records = body.get("records")
    if not isinstance(records, list) or not records:
        details.append({"field": "records", "expected": f"a list of 1 to {max_batch} records"})
    if details:
        raise ApiError(422, BAD_ENVELOPE, code="invalid_request", details=details)
    if len(records) > max_batch:
        raise ApiError(413, TOO_MANY.format(n=len(records), max_batch=max_batch), code="too_large")
    return len(records)


@dataclass(frozen=True)
class ScoredRequest:
    """One scored batch. ``table`` holds the m flagged records as store rows (``entities``
    the identities the records named, not yet pseudonymised: the store does that),
    ``reviews`` the ids of those in the abstain band; ``features`` (n, d) and ``margin``
    (n,) (suspicion minus the alert threshold) feed the probing monitor; ``body`` is the
    JSON response. ``refusal`` is (status, code, message, details) when nothing was scored."""

    model_id: str
    records: int
    refusal: tuple | None = None
    batch_id: str = ""
    table: pa.Table | None = None
    reviews: tuple = ()
    features: np.ndarray | None = None
    margin: np.ndarray | None = None
    body: bytes = b""


def score_request(model, raw: bytes, *, max_batch: int) -> ScoredRequest:
    try:
        request = ScoreRequest.model_validate_json(raw)
    except ValidationError as exc:
        return _refused(
            model,
            0,
            422,
            "invalid_request",
            SCHEMA_MISMATCH,
            validation_details(exc.errors(include_url=False)),
        )
    n = len(request.records)
    if n > max_batch:
        return _refused(model, n, 413, "too_large", TOO_MANY.format(n=n, max_batch=max_batch))
    if isinstance(model, TextModel):  # payloads or domain names: one text field per record
        from trustshield.service.text_scoring import score_texts

        return score_texts(model, request.records)
    batch = read_records(request.records, model.spec)
    if batch.problems:
        return _refused(
            model,
            n,
            422,
            "invalid_records",
            f"{len(batch.problems)} problem(s) in the records; nothing was scored or stored",
            problem_details(batch.problems),
        )
    scored = score_batch(model, batch.frame)
    batch_id = uuid.uuid4().hex
    table = alerts_table(
        model, batch_id, batch_id, Batch(batch.frame, batch.lines, entities=batch.entities), scored
    )
    results = _results(scored, table.column("alert_id").to_pylist())
    body = {
        "model_id": model.model_id,
        "batch_id": batch_id,
        "records": n,
        "alerts_returned": int(table.num_rows),
        "results": results,
    }
    return ScoredRequest(
        model.model_id,
        n,
        batch_id=batch_id,
        table=table,
        reviews=tuple(r["alert_id"] for r in results if r["action"] == REVIEW),
        features=scored.features,
        margin=scored.decision.suspicion - model.policy.alert_threshold_,
        body=json.dumps(body, separators=(",", ":"), allow_nan=False).encode(),
    )


def _refused(model, n: int, status: int, code: str, message: str, details=None) -> ScoredRequest:
    return ScoredRequest(model.model_id, n, refusal=(status, code, message, details))


def _results(scored, alert_ids: list[str]) -> list[dict]:
    """One result per record; flagged ones with their explanation (``base`` + Σ top
    attributions + ``others`` = suspicion)."""
    decision = scored.decision
    results = [
        {"index": i, "action": str(a), "suspicion": float(s)}
        for i, (a, s) in enumerate(zip(decision.actions, decision.suspicion))
    ]
    values = scored.attributions.values
    names = scored.attributions.feature_names
    for k, row in enumerate(scored.flagged):
        order = np.argsort(-np.abs(values[k]))
        top = order[:TOP_ATTRIBUTIONS]
        results[row].update(
            alert_id=alert_ids[k],
            category=str(scored.categories[k]),
            rationale=str(scored.rationales[k]),
            base=float(scored.attributions.base[k]),
            attributions=[{"feature": names[j], "contribution": float(values[k, j])} for j in top],
            others=float(values[k, order[TOP_ATTRIBUTIONS:]].sum()),
        )
        if scored.techniques[k]:
            results[row]["technique"] = str(scored.techniques[k])
    return results


class ScoringPool:
    """``workers`` processes holding the model built from ``files`` (the bytes the service
    verified: a folder changed on disk afterwards is never scored, not even by a worker
    started later), replaced when one dies (``on_restart`` is told why); ``workers`` 0
    scores in a thread of the service process instead."""

    def __init__(self, model, files: ModelFiles | None, workers: int, *, on_restart=None):
        self.model, self.workers = model, workers
        self._pool = None
        if workers > 0 and files is not None:
            self._pool = WorkerPool(files, workers, on_restart=on_restart)

    async def score(self, raw: bytes, *, max_batch: int) -> ScoredRequest:
        """The scored request; ApiError 503 (retryable) when its worker died under it or
        every worker is being replaced."""
        if self._pool is None:
            from starlette.concurrency import run_in_threadpool

            return await run_in_threadpool(score_request, self.model, raw, max_batch=max_batch)
        try:
            if not self._pool.available:
                raise WorkerLost("every scoring worker is being replaced")
            future = self._pool.submit(score_request, raw, max_batch=max_batch)
            return await asyncio.wrap_future(future)
        except WorkerLost:  # why and which process: in the audit log and the server log
            raise ApiError(
                503,
                "a scoring worker stopped and is being replaced; nothing was "
                f"scored or stored: retry in {RETRY_AFTER_S} s",
                code="unavailable",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            ) from None

    @property
    def healthy(self) -> bool:
        """False while a scoring worker is starting or being replaced."""
        return self._pool is None or self._pool.healthy

    def pids(self) -> list[int]:
        """The scoring worker processes alive now (none when scoring in the service)."""
        return [] if self._pool is None else self._pool.pids()

    def close(self, *, wait: bool = True) -> None:
        """Stop the workers (``wait`` False: let requests in flight finish in the background)."""
        if self._pool is not None:
            self._pool.close(wait=wait)
