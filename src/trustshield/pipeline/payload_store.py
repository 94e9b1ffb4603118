"""Flagged payloads into the store: a run, its alerts and their audit events.

A payload model is registered in the store's model registry under the first 16 hex digits
of its file's sha256 (detector ``payload``, one text feature ``payload``); a detection
run (kind ``payloads``) then adds one alert per flagged payload, in one transaction per
run with the run's ``payloads.run`` audit event. An alert holds the score as
``suspicion``, the attack type as ``category``, ATT&CK T1190 as ``technique``, one term
per character of the payload as sent with its ``base`` (``attributions``; the characters'
code points in ``feature_values``, :mod:`trustshield.explain.text_alerts`, so the dashboard
shows the payload highlighted), and as ``rationale``
the type, its CWE and the n-grams that pushed most. ``line`` is the payload's record
number in the CSV (the header is record 1); the same payload of the same file scored by
the same model keeps its alert id, so a second run adds nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import pyarrow as pa

from trustshield.explain.payload import PayloadExplanation, explain_payloads
from trustshield.explain.text_alerts import TEXT, as_stored
from trustshield.pipeline.payload_model import PayloadModel
from trustshield.store.alerts import alert_id

SPEC = "web-request parameter values (text)"


def rationale(e: PayloadExplanation, top: int = 5) -> str:
    """One line: type, CWE, technique and the n-grams that pushed most, with their terms."""
    pushes = ", ".join(f"{g.text!r} {g.contribution:+.3f}" for g in e.ngrams[:top])
    return f"{e.attack_type} ({e.cwe or 'no CWE'}, {e.technique}): {pushes}"


def store_payload_detections(
    store,
    model: PayloadModel,
    model_id: str,
    payloads: Sequence[str],
    *,
    source_path: str,
    source_sha256: str,
    labels: Sequence[str] | None = None,
):
    """Score ``payloads`` and keep the flagged ones as alerts of a new run; returns the
    run's summary (:class:`~trustshield.store.alerts.RunSummary`)."""
    now = datetime.now(timezone.utc)
    store.record_model(
        {
            "model_id": model_id,
            "created_at": now.isoformat(),
            "spec": SPEC,
            "detector": "payload",
            "files": {"model": model_id},
        },
        [{"name": "payload", "type": TEXT, "categories": None}],
    )
    run_id = uuid.uuid4().hex[:16]
    store.start_run(
        run_id=run_id,
        kind="payloads",
        model_id=model_id,
        source_path=source_path,
        source_sha256=source_sha256,
    )
    try:
        scores = model.detector.score_payloads(list(payloads))[0]
        rows = [i for i, s in enumerate(scores) if s > model.threshold]
        found = explain_payloads(model.detector, [payloads[i] for i in rows])
        stored = [as_stored(e.payload, e.chars.tolist()) for e in found]
        table = pa.table(
            {
                "alert_id": [alert_id(model_id, source_sha256, i + 2) for i in rows],
                "run_id": pa.array([run_id] * len(rows), pa.string()),
                "model_id": pa.array([model_id] * len(rows), pa.string()),
                "source_sha256": pa.array([source_sha256] * len(rows), pa.string()),
                "line": pa.array([i + 2 for i in rows], pa.int64()),
                "action": pa.array(["alert"] * len(rows), pa.string()),
                "suspicion": pa.array([e.score for e in found], pa.float64()),
                "category": pa.array([e.attack_type for e in found], pa.string()),
                "technique": pa.array([e.technique for e in found], pa.string()),
                "component": pa.array(["payload"] * len(rows), pa.string()),
                "label": pa.array(
                    [labels[i] if labels is not None else None for i in rows], pa.string()
                ),
                "base": pa.array([e.base for e in found], pa.float64()),
                "attributions": pa.array([a for _, a in stored], pa.list_(pa.float64())),
                "feature_values": pa.array([v for v, _ in stored], pa.list_(pa.float64())),
                "rationale": pa.array([rationale(e) for e in found], pa.string()),
                "created_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            }
        )
        store.add_batch(run_id, table, [], rows_read=len(payloads))
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    return store.finish_run(run_id, "complete")
