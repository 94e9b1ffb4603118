"""Per-subject FRR / FAR, their spread, and the before/after table of a mitigation, on
attempts whose answers are known by construction."""

import numpy as np
import pandas as pd
import pytest

from trustshield.assess.evidence import FAIRNESS
from trustshield.assess.fairness import (
    BARS,
    decide_attempts,
    fairness_evidence,
    fairness_summary,
    fairness_table,
    spread,
    subject_rates,
)
from trustshield.decide.authentication import AuthPolicy
from trustshield.decide.enrolment import calibrate
from trustshield.records import ACCEPT, DENY, STEP_UP


def attempts(frr: dict, far: dict, n: int = 20):
    """Per subject, n genuine attempts of which frr[s]·n are not accepted (half step-up,
    half deny) and n impostor attempts of which far[s]·n are accepted."""
    subjects, genuine, actions = [], [], []
    for s in frr:
        rejected, accepted = round(frr[s] * n), round(far[s] * n)
        refusals = [STEP_UP if i % 2 else DENY for i in range(rejected)]
        subjects += [s] * 2 * n
        genuine += [True] * n + [False] * n
        actions += (
            refusals + [ACCEPT] * (n - rejected) + [ACCEPT] * accepted + [STEP_UP] * (n - accepted)
        )
    return {"subjects": subjects, "genuine": genuine, "actions": actions}


FRR = {f"s{k:02d}": k / 20 for k in range(20)}  # 0.00, 0.05, … 0.95
FAR = {f"s{k:02d}": 0.05 if k % 2 else 0.0 for k in range(20)}


def test_rates_per_subject_match_the_construction():
    rates = subject_rates(**attempts(FRR, FAR))
    assert rates["frr"].to_dict() == pytest.approx(FRR)
    assert rates["far"].to_dict() == pytest.approx(FAR)
    assert (rates["genuine_attempts"] == 20).all() and (rates["impostor_attempts"] == 20).all()


def test_step_up_and_deny_both_count_as_rejections_and_only_accept_lets_impostors_in():
    rates = subject_rates(
        subjects=["a"] * 4,
        genuine=[True, True, False, False],
        actions=[STEP_UP, DENY, STEP_UP, DENY],
    )
    assert rates.loc["a", "frr"] == 1.0 and rates.loc["a", "far"] == 0.0


def test_a_subject_without_impostor_attempts_has_no_far():
    rates = subject_rates(
        subjects=["a", "a", "b"], genuine=[True, False, True], actions=[ACCEPT, ACCEPT, STEP_UP]
    )
    assert rates.loc["a", "far"] == 1.0 and np.isnan(rates.loc["b", "far"])
    assert rates.loc["b", "frr"] == 1.0


def test_worst_decile_is_the_mean_of_the_top_tenth_of_subjects():
    figures = spread(pd.Series(FRR))
    assert figures["worst_decile"] == pytest.approx((0.95 + 0.90) / 2)  # ⌈20/10⌉ = 2 subjects
    assert figures["mean"] == pytest.approx(0.475)
    assert figures["max"] == 0.95 and figures["min"] == 0.0
    assert figures["max_min_ratio"] is None  # min is 0: the ratio is unbounded


def test_worst_decile_rounds_up_to_at_least_one_subject():
    assert spread(pd.Series([0.1, 0.4, 0.2]))["worst_decile"] == pytest.approx(0.4)
    assert spread(pd.Series([0.1] * 10 + [0.9]))["worst_decile"] == pytest.approx(0.5)  # ⌈1.1⌉ = 2


def test_max_min_ratio_when_every_subject_has_some_rejections():
    assert spread(pd.Series([0.1, 0.2, 0.4]))["max_min_ratio"] == pytest.approx(4.0)


def test_summary_has_the_keys_the_benchmark_reports():
    summary = fairness_summary(subject_rates(**attempts(FRR, FAR)))
    assert {
        "mean_far",
        "mean_frr",
        "worst_decile_frr",
        "worst_decile_far",
        "frr_max_min_ratio",
        "far_max_min_ratio",
        "subjects",
    } <= set(summary)
    assert summary["mean_far"] == pytest.approx(0.025)


def test_before_after_table_and_evidence_pass_when_the_mitigation_works():
    after_frr = {s: min(v, 0.3) for s, v in FRR.items()}
    after_far = {s: v + 0.005 * (k % 2) for k, (s, v) in enumerate(FAR.items())}
    table = fairness_table(
        before=subject_rates(**attempts(FRR, FAR, n=200)),
        after=subject_rates(**attempts(after_frr, after_far, n=200)),
    )
    assert table["before"]["worst_decile_frr"] == pytest.approx(0.925)
    assert table["after"]["worst_decile_frr"] == pytest.approx(0.3)
    assert table["worst_decile_frr_ratio"] == pytest.approx(0.3 / 0.925)
    assert table["mean_far_increase"] == pytest.approx(0.0025)
    assert len(table["per_subject"]) == 20 and {"frr_before", "frr_after"} <= set(
        table["per_subject"][0]
    )
    evidence = fairness_evidence(table)
    assert [e.status for e in evidence] == ["pass", "pass"]
    assert all(e.principles == FAIRNESS for e in evidence)


def test_evidence_fails_when_impostors_pay_for_the_fairness():
    after_far = {s: v + 0.1 for s, v in FAR.items()}
    table = fairness_table(
        before=subject_rates(**attempts(FRR, FAR)),
        after=subject_rates(**attempts({s: 0.0 for s in FRR}, after_far)),
    )
    mitigation, cost = fairness_evidence(table)
    assert mitigation.status == "pass" and cost.status == "fail"
    assert cost.value == pytest.approx(0.1) and cost.threshold == BARS["mean_far_increase"]


def test_nothing_to_mitigate_is_not_evidenced_rather_than_passed():
    zero = {s: 0.0 for s in FRR}
    table = fairness_table(
        before=subject_rates(**attempts(zero, FAR)), after=subject_rates(**attempts(zero, FAR))
    )
    assert fairness_evidence(table)[0].status == "not_evidenced"


def test_mismatched_inputs_and_unknown_actions_are_refused():
    with pytest.raises(ValueError, match="one entry per attempt"):
        subject_rates(subjects=["a"], genuine=[True, False], actions=[ACCEPT])
    with pytest.raises(ValueError, match="accept"):
        subject_rates(subjects=["a"], genuine=[True], actions=["allow"])


def test_per_user_calibration_halves_the_worst_decile_frr_on_synthetic_typists():
    """Typists whose genuine scores spread wider are rejected more under one global
    threshold; thresholds from each user's own enrolment scores even that out."""
    rng = np.random.default_rng(0)
    width = {f"u{k}": 0.1 * (1 + k) ** 1.5 for k in range(20)}

    def scores(user, genuine, n):
        w = width[user]
        return rng.gamma(4, w / 4, n) + (0 if genuine else 6 * w)

    enrol = {u: scores(u, True, 100) for u in width}
    background = {u: scores(u, False, 100) for u in width}
    tests = [(u, g, scores(u, g, 1)) for u in width for g in (True, False) for _ in range(100)]
    tables = {}
    for calibration in ("global", "per_user"):
        policies = calibrate(enrol, background, calibration=calibration, accept_quantile=0.9)
        tables[calibration] = subject_rates(**decide_attempts(policies, tests))
    table = fairness_table(before=tables["global"], after=tables["per_user"])
    assert table["worst_decile_frr_ratio"] <= 0.5
    assert table["mean_far_increase"] <= 0.01
    assert isinstance(policies["u0"], AuthPolicy)


def test_normalised_calibration_evens_out_verifier_scale_where_few_enrolment_samples_cannot():
    """Each user's verifier scores everyone on its own scale (genuine and impostor alike);
    15 enrolment samples give a noisy per-user quantile, while the background impostors
    measure the scale well: placing thresholds on the impostor-normalised scale halves
    the worst decile's FRR of one global threshold without letting more impostors in."""
    rng = np.random.default_rng(1)
    scale = {f"u{k}": 1.1**k for k in range(20)}

    def scores(user, genuine, n):
        return scale[user] * (rng.gamma(6, 1 / 6, n) + (0 if genuine else 3.0))

    enrol = {u: scores(u, True, 15) for u in scale}
    background = {u: scores(u, False, 300) for u in scale}
    tests = [(u, g, scores(u, g, 3)) for u in scale for g in (True, False) for _ in range(100)]
    rates = {
        c: subject_rates(**decide_attempts(calibrate(enrol, background, calibration=c), tests))
        for c in ("global", "per_user", "normalised")
    }
    table = fairness_table(before=rates["global"], after=rates["normalised"])
    assert table["worst_decile_frr_ratio"] <= 0.5
    assert table["mean_far_increase"] <= 0.01
    per_user = fairness_summary(rates["per_user"])
    assert table["after"]["worst_decile_frr"] < per_user["worst_decile_frr"]
