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

from collections.abc import Sequence

from trustshield.explain.payload import PayloadExplanation, explain_payloads
from trustshield.pipeline.payload_model import PayloadModel
from trustshield.pipeline.text_alert_store import TextAlert, TextRun, store_text_alerts

SPEC = "web-request parameter values (text)"


def payload_alert(line: int, e: PayloadExplanation, label: str | None = None) -> TextAlert:
    """The alert of one explained payload, record ``line`` of its input."""
    return TextAlert(
        line=line,
        text=e.payload,
        terms=e.chars.tolist(),
        suspicion=e.score,
        base=e.base,
        category=e.attack_type,
        technique=e.technique,
        rationale=rationale(e),
        label=label,
    )


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

    def flagged() -> list[TextAlert]:
        scores = model.detector.score_payloads(list(payloads))[0]
        rows = [i for i, s in enumerate(scores) if s > model.threshold]
        found = explain_payloads(model.detector, [payloads[i] for i in rows])
        return [
            payload_alert(i + 2, e, labels[i] if labels is not None else None)  # header: 1
            for i, e in zip(rows, found, strict=True)
        ]

    run = TextRun(model_id, "payload", SPEC, "payloads", source_path, source_sha256, len(payloads))
    return store_text_alerts(store, run, flagged)
