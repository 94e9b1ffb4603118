"""Alerting domain names into the store: a run, its alerts and their audit events.

A domain model is registered in the store's model registry under the first 16 hex digits
of its file's sha256 (detector ``domain``, one text feature ``domain``); a scoring run
(kind ``domains``) adds one alert per domain above the model's threshold, in one
transaction with the run's ``domains.run`` audit event. An alert holds the log-odds as
``suspicion``, the likely family as ``category``, ATT&CK T1568.002 as ``technique``, one
term per character of the domain as written (the name's character attributions where the
name sits, 0 on the other labels and dots; :mod:`trustshield.explain.text_alerts`) with
its ``base``, and as ``rationale`` the family, its probability and the n-grams that
pushed most. ``line`` is the name's position in the input (1 = first name); the same
name at the same position of the same input scored by the same model keeps its alert id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone

import pyarrow as pa

from trustshield.explain.text_alerts import TEXT, as_stored
from trustshield.pipeline.domains import DomainModel, DomainVerdict, score
from trustshield.store.alerts import alert_id

SPEC = "domain names (text)"
TECHNIQUE = "T1568.002"


def rationale(v: DomainVerdict, top: int = 5) -> str:
    """One line: family and its probability, the technique and the n-grams that pushed."""
    pushes = ", ".join(f"{t!r} {w:+.3f}" for t, w in v.ngrams[:top])
    return f"DGA {v.family} (p {v.family_p:.2f}, {TECHNIQUE}): {pushes}"


def domain_terms(v: DomainVerdict) -> list[float]:
    """One term per character of ``v.domain``: the name's attributions on its label."""
    terms = [0.0] * len(v.domain)
    start = _label_start(v.domain, v.name)
    for k, c in enumerate(v.characters):
        terms[start + k] = c
    return terms


def _label_start(domain: str, name: str) -> int:
    at = 0
    for label in domain.split("."):
        if label and label[: len(name)] == name:
            return at
        at += len(label) + 1
    return 0


def store_domain_alerts(
    store,
    model: DomainModel,
    model_id: str,
    domains: Sequence[str],
    *,
    source_path: str,
    source_sha256: str,
):
    """Score ``domains`` and keep the alerting ones as alerts of a new run; returns the
    run's summary (:class:`~trustshield.store.alerts.RunSummary`)."""
    now = datetime.now(timezone.utc)
    store.record_model(
        {
            "model_id": model_id,
            "created_at": now.isoformat(),
            "spec": SPEC,
            "detector": "domain",
            "files": {"model": model_id},
        },
        [{"name": "domain", "type": TEXT, "categories": None}],
    )
    run_id = uuid.uuid4().hex[:16]
    store.start_run(
        run_id=run_id,
        kind="domains",
        model_id=model_id,
        source_path=source_path,
        source_sha256=source_sha256,
    )
    try:
        verdicts = score(model, list(domains))
        rows = [i for i, v in enumerate(verdicts) if v.alert]
        found = [verdicts[i] for i in rows]
        stored = [as_stored(v.domain, domain_terms(v)) for v in found]
        table = pa.table(
            {
                "alert_id": [alert_id(model_id, source_sha256, i + 1) for i in rows],
                "run_id": pa.array([run_id] * len(rows), pa.string()),
                "model_id": pa.array([model_id] * len(rows), pa.string()),
                "source_sha256": pa.array([source_sha256] * len(rows), pa.string()),
                "line": pa.array([i + 1 for i in rows], pa.int64()),
                "action": pa.array(["alert"] * len(rows), pa.string()),
                "suspicion": pa.array([v.score for v in found], pa.float64()),
                "category": pa.array([v.family or "dga" for v in found], pa.string()),
                "technique": pa.array([TECHNIQUE] * len(rows), pa.string()),
                "component": pa.array(["domain"] * len(rows), pa.string()),
                "label": pa.array([None] * len(rows), pa.string()),
                "base": pa.array([v.base for v in found], pa.float64()),
                "attributions": pa.array([a for _, a in stored], pa.list_(pa.float64())),
                "feature_values": pa.array([f for f, _ in stored], pa.list_(pa.float64())),
                "rationale": pa.array([rationale(v) for v in found], pa.string()),
                "created_at": pa.array([now] * len(rows), pa.timestamp("us", tz="UTC")),
            }
        )
        store.add_batch(run_id, table, [], rows_read=len(domains))
    except BaseException:
        store.finish_run(run_id, "failed")
        raise
    return store.finish_run(run_id, "complete")
