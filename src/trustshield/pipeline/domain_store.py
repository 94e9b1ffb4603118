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

from collections.abc import Sequence

from trustshield.pipeline.domains import DomainModel, DomainVerdict, score
from trustshield.pipeline.text_alert_store import TextAlert, TextRun, store_text_alerts

SPEC = "domain names (text)"
TECHNIQUE = "T1568.002"


def domain_alert(line: int, v: DomainVerdict) -> TextAlert:
    """The alert of one scored name, record ``line`` of its input."""
    return TextAlert(
        line=line,
        text=v.domain,
        terms=domain_terms(v),
        suspicion=v.score,
        base=v.base,
        category=v.family or "dga",
        technique=TECHNIQUE,
        rationale=rationale(v),
    )


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

    def flagged() -> list[TextAlert]:
        verdicts = score(model, list(domains))
        return [domain_alert(i + 1, v) for i, v in enumerate(verdicts) if v.alert]

    run = TextRun(model_id, "domain", SPEC, "domains", source_path, source_sha256, len(domains))
    return store_text_alerts(store, run, flagged)
