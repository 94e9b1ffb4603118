"""``POST /v1/score`` with a text model active: payloads or domain names in, verdicts with
one exact term per character out (pure; runs where tabular scoring runs).

A record holds the model's text field (``payload`` for a payload model, ``domain`` for a
domain model) as a JSON string and, optionally, the identity fields and ``ts`` of
:data:`~trustshield.service.batches.ENTITY_KEYS`. Any other key, a missing or non-string
text, a text longer than :data:`MAX_TEXT` characters (a domain: longer than a DNS name, or
not one), or text that is not valid Unicode is a problem naming the row (0-based position)
and the field; a batch with any problem is refused whole (422), and so is one whose texts
hold more than :data:`MAX_BATCH_TEXT` characters in all (413).

Each result carries ``suspicion`` (log-odds; higher = more suspicious), ``action``
(``alert`` when the suspicion is above the model's threshold, else ``allow``: text models
have no review band), ``base``, ``text`` (as scored) and ``characters``: one term per
character of ``text``, with ``base + Σ characters = suspicion`` up to float rounding.
Alerting ones add ``category`` (the attack type, or the likely DGA family),
``technique`` (ATT&CK T1190 for payloads, T1568.002 for DGA domains), ``rationale`` and
``alert_id``; they become store alerts exactly as ``payloads detect --store`` and
``domains score --store`` write them (one term per character, so the dashboard colours
the text), with the records' entities.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trustshield.errors import DataError
from trustshield.ingest.validate import RowProblem
from trustshield.decide.text_model import TextModel
from trustshield.service.batches import (
    ENTITY_KEYS,
    MAX_PROBLEMS,
    SOURCE,
    TEXT,
    TOO_LONG,
    identities_of,
    json_kind,
)
from trustshield.service.batches import shortened, problem_details
from trustshield.service.scoring_work import ScoredRequest

if TYPE_CHECKING:
    from trustshield.pipeline.text_alert_store import TextAlert

MAX_TEXT = 4096  #: characters of one payload in a request (a domain: at most 253)
#: characters of all texts of one request: explaining costs CPU per character (the
#: n-grams' terms spread over the characters), while the rate limit counts records
MAX_BATCH_TEXT = 131_072
TOO_MUCH_TEXT = (
    "{total} characters of text in one batch; at most {limit} (send fewer or shorter "
    "texts per request)"
)


@dataclass(frozen=True)
class TextBatch:
    """Validated text records: ``texts`` (n,), ``entities`` (n, ENTITY_KEYS) or None."""

    texts: list[str]
    entities: pd.DataFrame | None
    problems: tuple[RowProblem, ...]


def read_text_records(records: list[dict], model: TextModel) -> TextBatch:
    """The texts and entities of ``records``, or the problems found (module docstring)."""
    field = model.field
    known = {field, *ENTITY_KEYS}
    problems: list[RowProblem] = []
    texts, entities = [], []
    for i, record in enumerate(records):
        for key in sorted(record.keys() - known):
            expected = f"no such field: {field!r} (the text) or one of {list(ENTITY_KEYS)}"
            problems.append(RowProblem(SOURCE, i, shortened(key), shortened(record[key]), expected))
        value = record.get(field)
        problem = _text_problem(model, i, value)
        if problem:
            shown = "" if value is None else shortened(value)
            problems.append(RowProblem(SOURCE, i, field, shown, problem))
        texts.append(value)
        entities.append(identities_of(i, record, problems))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        return TextBatch([], None, tuple(problems[:MAX_PROBLEMS]))
    frame = pd.DataFrame([e.as_dict() for e in entities], columns=list(ENTITY_KEYS), dtype=object)
    return TextBatch(texts, frame, ())


def _text_problem(model: TextModel, row: int, value) -> str | None:
    """What is wrong with one record's text, or None."""
    if value is None:
        return "a value (the field is missing)"
    if not isinstance(value, str):
        return TEXT.format(expected=f"the {model.kind} text", kind=json_kind(value))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "valid Unicode text (it holds a lone surrogate)"
    if model.kind == "domain":
        from trustshield.features.domain import check_domain

        try:
            check_domain(value, row)
        except DataError as exc:
            return str(exc)
        return None
    if len(value) > MAX_TEXT:
        return TOO_LONG.format(limit=MAX_TEXT, length=len(value))
    return None


def verdicts(model: TextModel, texts: list[str]) -> list[TextAlert]:
    """One verdict per text, in order, as the alert it would be (``line`` = its index);
    the caller keeps the alerting ones (a payload's rationale names n-grams only when it
    scores above the threshold)."""
    if model.kind == "payload":
        from trustshield.explain.payload import explain_payloads
        from trustshield.pipeline.payload_store import payload_alert

        found = explain_payloads(model.detector, texts, ngrams_above=model.threshold)
        return [payload_alert(i, e) for i, e in enumerate(found)]
    from trustshield.pipeline.domain_store import domain_alert
    from trustshield.pipeline.domains import DomainModel, score

    scored = score(DomainModel(model.detector, model.threshold, {}), texts)
    return [domain_alert(i, v) for i, v in enumerate(scored)]


def score_texts(model: TextModel, records: list[dict]) -> ScoredRequest:
    """The scored request of ``records`` (already within the batch limit) under ``model``."""
    from trustshield.pipeline.detect import entity_column
    from trustshield.pipeline.text_alert_store import TextRun, text_alerts_table

    n = len(records)
    batch = read_text_records(records, model)
    if batch.problems:
        message = f"{len(batch.problems)} problem(s) in the records; nothing was scored or stored"
        return ScoredRequest(
            model.model_id,
            n,
            refusal=(422, "invalid_records", message, problem_details(batch.problems)),
        )
    total = sum(len(t) for t in batch.texts)
    if total > MAX_BATCH_TEXT:
        message = TOO_MUCH_TEXT.format(total=total, limit=MAX_BATCH_TEXT)
        return ScoredRequest(model.model_id, n, refusal=(413, "too_large", message, None))
    found = verdicts(model, batch.texts)
    batch_id = uuid.uuid4().hex
    suspicion = np.asarray([v.suspicion for v in found], dtype=np.float64)
    alerting = np.flatnonzero(suspicion > model.threshold)
    alerts = [found[i] for i in alerting]
    run = TextRun(model.model_id, model.kind, model.spec_name, "score", SOURCE, batch_id, n)
    table = text_alerts_table(
        run, batch_id, datetime.now(timezone.utc), alerts, entity_column(batch.entities, alerting)
    )
    ids = dict(zip(alerting.tolist(), table.column("alert_id").to_pylist(), strict=True))
    results = [_result(i, v, ids.get(i)) for i, v in enumerate(found)]
    body = {
        "model_id": model.model_id,
        "batch_id": batch_id,
        "records": n,
        "alerts_returned": len(alerts),
        "results": results,
    }
    return ScoredRequest(
        model.model_id,
        n,
        batch_id=batch_id,
        table=table,
        features=np.zeros((n, 0)),  # the probing monitor watches margins only (no features)
        margin=suspicion - model.threshold,
        body=json.dumps(body, separators=(",", ":"), allow_nan=False).encode(),
    )


def _result(index: int, verdict: TextAlert, alert_id: str | None) -> dict:
    result = {
        "index": index,
        "action": "alert" if alert_id else "allow",
        "suspicion": verdict.suspicion,
        "base": verdict.base,
        "text": verdict.text,
        "characters": verdict.terms,
    }
    if alert_id:
        result.update(
            alert_id=alert_id,
            category=verdict.category,
            technique=verdict.technique,
            rationale=verdict.rationale,
        )
    return result
