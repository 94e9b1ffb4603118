"""P24 (monitor drift after deployment) is measured by the drift monitor's Evidence."""

import numpy as np
import pandas as pd

from trustshield.drift.monitor import DriftReference, drift
from trustshield.assess.drift_evidence import drift_evidence
from trustshield.assess.evidence import performance_evidence
from trustshield.governance.crosswalk import MET, PARTLY, crosswalk
from trustshield.governance.practices import KNOWN_CHECKS, load_practices

FIGURES = {
    "metrics": {"accuracy": 0.95, "fpr": 0.02},
    "dataset": {"sha256": "ab" * 32},
    "explanation": {"explained_rows": 10, "max_abs_sum_error": 0.0},
}


def p24():
    return next(p for p in load_practices() if p.id == "P24")


def test_p24_names_the_drift_checks_and_nothing_is_left_planned():
    practice = p24()
    assert {"input drift", "output drift"} <= set(practice.checks) <= set(KNOWN_CHECKS)
    assert practice.planned == ""


def drift_of(shift):
    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(0, 1, 4000)})
    reference = DriftReference().fit(train, rng.normal(0, 1, 4000), threshold=1.0)
    window = pd.DataFrame({"x": rng.normal(shift, 1, 2000)})
    return drift_evidence(drift(reference, window, rng.normal(0, 1, 2000)))


def test_p24_is_met_only_when_the_data_has_not_drifted():
    def status(evidence):
        return crosswalk(
            [p24()], performance_evidence(FIGURES) + evidence, use_case="intrusion detection"
        )["practices"][0]["status"]

    assert status(drift_of(0.0)) == MET
    assert status(drift_of(2.0)) == PARTLY  # input drift fails, the rest passes
    assert status([]) == PARTLY  # drift unmeasured: never met
