"""The trust report of a payload model on labelled test payloads: figures, Evidence and
the governance roll-up of the "web attack detection" use case.

The figures have the shape of the benchmark's (:mod:`trustshield.pipeline.payload_benchmark`)
for the one model (named ``hardened``, as the model ``payloads train`` writes): recall per
attack type and false-positive rate at the model's threshold, explanation exactness,
scoring rate, and evasion by semantics-preserving rewrites (random and score-guided
search at the default budget; only counts are kept, never the variants). Without peers
the evasion bar is the absolute one (:data:`trustshield.assess.payload_evidence.MAX_EVASION`).
"""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np

from trustshield.assess.payload_evidence import USE_CASE, payload_evidence
from trustshield.assess.robustness.payload_rewrites import Budget
from trustshield.errors import DataError
from trustshield.ingest.payloads import PayloadTable
from trustshield.pipeline.assessment import governance
from trustshield.pipeline.payload_benchmark import (
    Settings,
    exactness,
    guided_summary,
    per_type,
    throughput,
)
from trustshield.pipeline.payload_model import PayloadModel, payload_evasion


def assess_payload_model(
    model: PayloadModel, table: PayloadTable, *, sha256: str, budget: Budget | None = None
) -> dict:
    """The report dict (plain JSON): model, data, figures, evidence, governance."""
    budget = budget or Budget()
    if table.attack_types is None:
        raise DataError(f"{table.path}: the assessment needs the 'attack_type' column")
    payloads, labels = list(table.payloads), np.asarray(table.attack_types)
    scores = model.detector.score_payloads(payloads)[0]
    score = lambda p: model.detector.score_payloads(p)[0]  # noqa: E731
    figures = {
        "settings": {"target_fpr": model.target_fpr, "moves": budget.moves, "tries": budget.tries},
        "models": {
            "hardened": {
                "threshold": model.threshold,
                "test": per_type(scores > model.threshold, labels),
                "evasion": payload_evasion(model, table, budget),
                "guided_evasion": guided_summary(
                    score, model.threshold, payloads, labels, Settings(budget=budget)
                ),
            }
        },
        "throughput": throughput(model.detector, payloads, repeats=3),
        "explanations": exactness(model.detector, payloads),
        "data": {
            "train": model.training.get("data", {}),
            "test": {"file": table.path, "sha256": sha256, "rows": len(payloads)},
        },
    }
    evidence = [e.as_dict() for e in payload_evidence(figures)]
    return {
        "title": "TrustShield trust report: web-request payloads",
        "generated_at": datetime.now(timezone.utc).isoformat(),
        "model": {
            "detector": "payload",
            "types": list(model.detector.types_),
            "threshold": model.threshold,
            "training": model.training,
        },
        "figures": figures,
        "evidence": evidence,
        "governance": governance(evidence, use_case=USE_CASE),
    }
