"""Flagged texts into the store: one run of a text model, its alerts and audit events.

A text model (payloads, domain names) is registered in the store's model registry with
one feature of type :data:`~trustshield.explain.text_alerts.TEXT`; a run then adds one
alert per flagged text in one transaction with the run's audit event. Each alert keeps
one term per character of the text as sent (:func:`~trustshield.explain.text_alerts.
as_stored`), so the dashboard and ``explain`` show the text coloured by attribution.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import pyarrow as pa

from trustshield.explain.text_alerts import TEXT, as_stored
from trustshield.store.alerts import alert_id


@dataclass(frozen=True)
class TextAlert:
    """One flagged text: its record number in the input (``line``), the text as sent, one
    term per character (base + Σ terms = ``suspicion``; higher is more suspicious), and
    what the alert names."""

    line: int
    text: str
    terms: Sequence[float]
    suspicion: float
    base: float
    category: str
    technique: str
    rationale: str
    label: str | None = None


@dataclass(frozen=True)
class TextRun:
    """What a run of a text model is: the model and its input."""

    model_id: str
    detector: str  #: the detector kind, also the alerts' component and the feature name
    spec: str  #: what the model reads, in words
    kind: str  #: the run kind (``payloads``, ``domains``)
    source_path: str
    source_sha256: str
    rows_read: int


def store_text_alerts(store, run: TextRun, flagged: Callable[[], list[TextAlert]]):
    """Register the model, start a run, store the alerts ``flagged()`` returns and finish
    the run (``failed`` when anything raises); returns the run's summary
    (:class:`~trustshield.store.alerts.RunSummary`)."""
    now = datetime.now(timezone.utc)
    store.record_model(
        {
            "model_id": run.model_id,
            "created_at": now.isoformat(),
            "spec": run.spec,
            "detector": run.detector,
            "files": {"model": run.model_id},
        },
        [{"name": run.detector, "type": TEXT, "categories": None}],
    )
    run_id = uuid.uuid4().hex[:16]
    store.start_run(
        run_id=run_id,
        kind=run.kind,
        model_id=run.model_id,
        source_path=run.source_path,
        source_sha256=run.source_sha256,
    )
    try:
        alerts = flagged()
        store.add_batch(
            run_id, text_alerts_table(run, run_id, now, alerts), [], rows_read=run.rows_read
        )
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    return store.finish_run(run_id, "complete")


def text_alerts_table(
    run: TextRun,
    run_id: str,
    now: datetime,
    alerts: list[TextAlert],
    entities: pa.Array | None = None,
) -> pa.Table:
    """The store rows of ``alerts`` (columns of the store's ``alerts`` table); ids from the
    model, ``run.source_sha256`` and each alert's line. ``entities``, when given, is the
    typed entities column of the alerts (:func:`~trustshield.pipeline.detect.entity_column`)."""
    n = len(alerts)
    stored = [as_stored(a.text, a.terms) for a in alerts]
    extra = {} if entities is None else {"entities": entities}
    return pa.table(
        {
            "alert_id": [alert_id(run.model_id, run.source_sha256, a.line) for a in alerts],
            "run_id": pa.array([run_id] * n, pa.string()),
            "model_id": pa.array([run.model_id] * n, pa.string()),
            "source_sha256": pa.array([run.source_sha256] * n, pa.string()),
            "line": pa.array([a.line for a in alerts], pa.int64()),
            "action": pa.array(["alert"] * n, pa.string()),
            "suspicion": pa.array([a.suspicion for a in alerts], pa.float64()),
            "category": pa.array([a.category for a in alerts], pa.string()),
            "technique": pa.array([a.technique for a in alerts], pa.string()),
            "component": pa.array([run.detector] * n, pa.string()),
            "label": pa.array([a.label for a in alerts], pa.string()),
            "base": pa.array([a.base for a in alerts], pa.float64()),
            "attributions": pa.array([t for _, t in stored], pa.list_(pa.float64())),
            "feature_values": pa.array([v for v, _ in stored], pa.list_(pa.float64())),
            "rationale": pa.array([a.rationale for a in alerts], pa.string()),
            "created_at": pa.array([now] * n, pa.timestamp("us", tz="UTC")),
            **extra,
        }
    )
