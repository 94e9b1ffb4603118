"""Run every evaluator that applies to a model and its test data; roll the Evidence up to
practices, principles and risks.

Evaluators run here: performance and explanation exactness (``evaluate``), feasible
evasion at the default budget on up to 500 flagged attack records, measurement noise and
missing values at 5 %, model-folder integrity, and, when given, the store's audit chain and
red-team gating and the template folder's encryption. Poisoning needs retraining and the
authentication figures need their own data: their checks are ``not evidenced`` here unless
their Evidence is passed in (``extra``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trustshield.assess.baselines import BaselineComparison, baseline_evidence, compare_baselines
from trustshield.assess.evidence import performance_evidence
from trustshield.assess.robustness.evasion import evade, evasion_evidence, select_attack_records
from trustshield.assess.robustness.noise import noise_evidence
from trustshield.assess.security import audit_evidence, model_evidence, template_evidence
from trustshield.errors import DataError
from trustshield.governance.crosswalk import crosswalk, item_status
from trustshield.governance.risks import register
from trustshield.model_folder import TrainedModel
from trustshield.pipeline.noise_study import noise_study
from trustshield.pipeline.report_sections import Evaluation
from trustshield.pipeline.scoring import score_batch
from trustshield.records import ALERT, Evidence

EVASION_RECORDS = 500
#: the noise and evasion studies run on a seeded sample of at most this many records, so
#: assessing a large file costs the same memory as a small one
STUDY_ROWS = 100_000
PRINCIPLES = ("oecd:1.2", "oecd:1.3", "oecd:1.4", "oecd:1.5")
#: the measurement shown beside each principle at a glance: the first of these measured
KEY_CHECKS = {
    "oecd:1.2": ("fairness mitigation", "template encryption at rest"),
    "oecd:1.3": ("explanation exactness",),
    "oecd:1.4": ("evasion resistance", "detection", "false alarms"),
    "oecd:1.5": ("audit chain integrity", "data provenance"),
}


def assessment_evidence(
    model: TrainedModel,
    folder: str | Path,
    frame: pd.DataFrame,
    figures: Evaluation,
    *,
    store=None,
    templates: str | Path | None = None,
    training: pd.DataFrame | str,
    progress=None,
) -> list[Evidence]:
    """Evidence from every evaluator that can run on these inputs. ``training`` is the
    model's training records (validated), for the baseline comparison, or why they are not
    available."""
    step = progress or (lambda message: None)
    evidence = performance_evidence(figures.as_dict()) + model_evidence(folder)
    if isinstance(training, str):
        evidence += baseline_evidence(None, training)
    else:
        step("baselines: default LightGBM and IsolationForest on the same training records")
        evidence += baseline_evidence(baseline_study(model, training, frame))
    if len(frame) > STUDY_ROWS:
        step(f"evasion and noise on a seeded sample of {STUDY_ROWS:,} of {len(frame):,} records")
        frame = frame.sample(n=STUDY_ROWS, random_state=0).sort_index()
    step("feasible evasion at the default budget")
    try:
        records = select_attack_records(model, frame, n=EVASION_RECORDS, allow_fewer=True)
        evidence += evasion_evidence(evade(model, records, attack="all").summary())
    except DataError as exc:  # no labels or no flagged attacks: the check stays unmeasured
        step(f"evasion not measured: {exc}")
    step("measurement noise and missing values")
    evidence += noise_evidence(
        noise_study(model, frame, model.spec, levels=(0.05,), missing_rates=(0.05,))
    )
    if store is not None:
        evidence += audit_evidence(store)
    if templates is not None:
        evidence += template_evidence(templates)
    return evidence


def baseline_study(
    model: TrainedModel, training: pd.DataFrame, test: pd.DataFrame
) -> list[BaselineComparison]:
    """The model against default baselines fitted on its training records (validated
    frame), all scored on the labelled ``test`` records (:mod:`trustshield.assess.baselines`)."""
    spec = model.spec
    for name, frame in (("training", training), ("test", test)):
        if spec.label_column not in frame.columns:
            raise DataError(f"the baseline comparison needs labels in the {name} records")
    attack_train = (training[spec.label_column] != spec.normal_label).to_numpy()
    attack_test = (test[spec.label_column] != spec.normal_label).to_numpy()
    alerted = score_batch(model, test).decision.actions == ALERT
    return compare_baselines(
        model.encoder.transform(training),
        attack_train,
        model.encoder.transform(test),
        attack_test,
        np.asarray(alerted, dtype=bool),
        seed=int(model.training.get("config", {}).get("seed", 0)),
    )


def governance(evidence: list, *, use_case: str) -> dict:
    """Crosswalk to practices, the principles at a glance, and the risk register. Each
    principle names its failed checks (``failing``): the failed Evidence behind the
    practices that serve it and apply to ``use_case``."""
    from trustshield.governance.catalogue import item as catalogue_item
    from trustshield.governance.practices import practices

    applicable = practices(use_case=use_case)
    walk = crosswalk(practices(), evidence, use_case=use_case)
    glance = []
    for item in PRINCIPLES:
        counts = walk["items"].get(item, {})
        checks = {c for p in applicable if item in p.serves for c in p.checks}
        glance.append(
            {
                "item": item,
                "title": catalogue_item(item).title,
                "status": item_status(counts) if counts else "not evidenced",
                "practices": counts,
                "key": _key_number(evidence, KEY_CHECKS[item]),
                "failing": failing_checks(evidence, checks),
            }
        )
    return {
        "use_case": use_case,
        "principles": glance,
        "crosswalk": walk,
        "risks": register(evidence, use_case=use_case),
    }


def failing_checks(evidence: list, checks: set[str]) -> list[dict]:
    """The failed Evidence among ``checks``, in evidence order: check, metric, measured
    value and its bar (what the report's verdict names beside a principle that fails)."""
    return [
        {k: e[k] for k in ("check", "metric", "value", "threshold")}
        for e in evidence
        if e["status"] == "fail" and e["check"] in checks
    ]


def _key_number(evidence: list, checks: tuple[str, ...]) -> dict | None:
    """The first measured Evidence among ``checks``: check, metric, value, bar, status."""
    for check in checks:
        for e in evidence:
            if e["check"] == check and e["value"] is not None:
                return {k: e[k] for k in ("check", "metric", "value", "threshold", "status")}
    return None
