"""Evidence of the web-payload use case, from the figures of a payload evaluation.

``figures`` is the plain dict of :func:`trustshield.pipeline.payload_benchmark.payload_figures`
(``models``, ``throughput``, ``explanations``, ``settings``, ``data``) or of a model's own
evaluation (``payloads assess``: the same keys, with only the ``hardened`` model and no
peers). The checks keep the names the governance catalogue knows (``detection``, ``false
alarms``, ``explanation exactness``, ``evasion resistance``, ``baseline comparison``,
``data provenance``), so they roll up to the practices of "web attack detection".
A figure not measured gives ``not_evidenced``, never ``pass``.
"""

from __future__ import annotations

from trustshield.assess.baselines import CHECK as BASELINE
from trustshield.assess.evidence import (
    ACCOUNTABILITY,
    ROBUSTNESS,
    SECURITY,
    TRANSPARENCY,
    at_least,
    at_most,
)
from trustshield.records import Evidence

#: the use case of the governance catalogue these checks serve
USE_CASE = "web attack detection"
#: bars of the issue: exactness of explanations, evasion of the hardened model (absolute,
#: when no peer ran) and scoring rate with explanations
EXACT = 1e-9
MAX_EVASION = 0.05
MIN_RATE = 50_000.0
NOT_RECALL = ("fpr", "false_positives")


def payload_evidence(figures: dict, model: str = "hardened") -> list[Evidence]:
    """Evidence from payload figures (see the module docstring); ``model`` names the
    TrustShield model in ``figures["models"]`` whose figures are judged."""
    models = figures.get("models", {})
    ours = models.get(model, {})
    test = ours.get("test", {})
    target = figures.get("settings", {}).get("target_fpr")
    evidence = [
        at_least(
            "detection",
            f"recall on {kind} test payloads at the trained threshold",
            value,
            _best_peer(models, kind),
            ROBUSTNESS,
        )
        for kind, value in sorted(test.items())
        if kind not in NOT_RECALL
    ]
    evidence.append(
        at_most(
            "false alarms",
            "share of normal test payloads flagged (bar: the trained false-positive target)",
            test.get("fpr"),
            target if target is not None else 0.001,
            ROBUSTNESS,
        )
    )
    exact = figures.get("explanations", {})
    worst = _max(exact.get("max_abs_sum_error"), exact.get("character_max_abs_sum_error"))
    evidence.append(
        at_most(
            "explanation exactness",
            "max |base + Σ attributions − score| over n-gram terms of "
            f"{exact.get('rows', 0)} and character terms of {exact.get('character_rows', 0)} "
            "payloads",
            worst,
            EXACT,
            TRANSPARENCY,
        )
    )
    evidence += _evasion(models, ours, figures.get("settings", {}))
    rate = figures.get("throughput", {}).get("payloads_per_cpu_s")
    evidence.append(
        at_least(
            "scoring rate",
            "payloads scored with exact n-gram explanations per CPU second",
            rate,
            MIN_RATE,
            ROBUSTNESS,
        )
    )
    data = figures.get("data", {})
    evidence.append(
        Evidence(
            "data provenance",
            "sha256 of the training and test files recorded",
            None,
            None,
            "pass"
            if data.get("train", {}).get("sha256") and data.get("test", {}).get("sha256")
            else "not_evidenced",
            ACCOUNTABILITY,
        )
    )
    return evidence


def _best_peer(models: dict, kind: str) -> float:
    """The best recall of a peer on ``kind`` (0 when no peer ran: any recall passes)."""
    recalls = [
        models[p]["test"].get(kind, 0.0)
        for p in ("tfidf", "libinjection")
        if "test" in models.get(p, {})
    ]
    return max(recalls, default=0.0)


def _evasion(models: dict, ours: dict, settings: dict) -> list[Evidence]:
    if "evasion" not in ours:
        value = None
    else:
        value = max(ours["evasion"]["rate"], ours.get("guided_evasion", {}).get("rate", 0.0))
    peers = []
    if "tfidf" in models:
        t = models["tfidf"]
        peers.append(max(t["evasion"]["rate"], t.get("guided_evasion", {}).get("rate", 0.0)))
    if "evasion" in models.get("libinjection", {}):
        peers.append(models["libinjection"]["evasion"]["rate"])
    bar = min(MAX_EVASION, 0.5 * min(peers)) if peers else MAX_EVASION
    budget = f"{settings.get('moves', '?')} rewrites, {settings.get('tries', '?')} queries"
    out = [
        at_most(
            "evasion resistance",
            "share of flagged attack payloads that semantics-preserving rewrites get past "
            f"the model (random and score-guided search, {budget}; bar: half the better "
            "peer's, at most 0.05)",
            value,
            bar,
            SECURITY,
        )
    ]
    if peers:
        out.append(
            at_most(
                BASELINE,
                "evasion of the hardened model minus half the better peer's",
                None if value is None else value - 0.5 * min(peers),
                0.0,
                SECURITY,
            )
        )
    return out


def _max(*values):
    present = [v for v in values if v is not None]
    return max(present) if present else None
