"""Authentication evidence: accuracy against the bars, and the fail-safe rules run live."""

import numpy as np

from trustshield.assess.authentication import fail_safe_evidence, verification_evidence
from trustshield.decide.authentication import AuthPolicy


def policy(**params):
    rng = np.random.default_rng(0)
    return AuthPolicy(**params).fit(
        genuine=rng.normal(1.0, 0.2, 60), impostor=rng.normal(3.0, 0.5, 200)
    )


def test_a_sound_policy_passes_every_fail_safe_case():
    (evidence,) = fail_safe_evidence(policy())
    assert evidence.status == "pass" and evidence.value == evidence.threshold == 7


def test_a_policy_that_denies_on_two_samples_fails_the_check():
    (evidence,) = fail_safe_evidence(policy(min_agreeing=2))
    assert evidence.status == "fail" and "too few agreeing samples" in evidence.metric


def test_verification_evidence_reads_the_benchmark_figures():
    keystroke = {
        "baselines": {"a": {"mean": 0.10}, "b": {"mean": 0.20}},
        "best_baseline": "a",
        "ours": {"mean": 0.05},
    }
    k, m = verification_evidence(keystroke=keystroke, mouse={"auc_pooled": 0.80})
    assert (k.value, k.status) == (0.5, "pass")
    assert (m.value, m.status) == (0.80, "fail")
    k, m = verification_evidence()
    assert k.status == m.status == "not_evidenced"
