"""Turn an evaluation's figures into Evidence: measured value, bar, verdict, principles.

A check whose figure was not measured is ``not_evidenced``, never ``pass``.
"""

from __future__ import annotations

from trustshield.records import Evidence

ROBUSTNESS = ("OECD: robustness, security and safety", "EU AI Act Art. 15 (accuracy)")
#: for resistance to deliberate evasion
SECURITY = ("OECD: robustness, security and safety", "EU AI Act Art. 15 (cybersecurity)")
#: for resilience to noise, missing values and poisoning
RESILIENCE = ("OECD: robustness, security and safety", "EU AI Act Art. 15 (robustness)")
TRANSPARENCY = ("OECD: transparency and explainability", "EU AI Act Art. 13")
ACCOUNTABILITY = ("OECD: accountability", "EU AI Act Art. 10 (data governance)")
#: for equal treatment of the people a model decides about (e.g. per-subject error rates)
FAIRNESS = ("OECD: human rights, fairness and privacy", "EU AI Act Art. 10 (bias examination)")

#: bars for intrusion detection on held-out traffic (binary normal / attack)
BARS = {"accuracy": 0.90, "fpr": 0.06, "max_abs_sum_error": 1e-6}


def performance_evidence(figures: dict) -> list[Evidence]:
    """Evidence from ``pipeline.evaluate.evaluate`` output."""
    m = figures.get("metrics", {})
    explanation = figures.get("explanation", {})
    return [
        at_least(
            "detection",
            "accuracy on labelled test data",
            m.get("accuracy"),
            BARS["accuracy"],
            ROBUSTNESS,
        ),
        at_most(
            "false alarms",
            "share of normal test records alerted",
            m.get("fpr"),
            BARS["fpr"],
            ROBUSTNESS,
        ),
        at_most(
            "explanation exactness",
            "max |base + Σ attributions − suspicion| over "
            f"{explanation.get('explained_rows', 0)} explained records",
            explanation.get("max_abs_sum_error"),
            BARS["max_abs_sum_error"],
            TRANSPARENCY,
        ),
        Evidence(
            "data provenance",
            "sha256 of the evaluated file recorded",
            None,
            None,
            "pass" if figures.get("dataset", {}).get("sha256") else "not_evidenced",
            ACCOUNTABILITY,
        ),
    ]


def at_least(check, metric, value, bar, principles) -> Evidence:
    """pass when the measured value reaches the bar; not_evidenced when unmeasured."""
    status = "not_evidenced" if value is None else ("pass" if value >= bar else "fail")
    return Evidence(check, metric, value, bar, status, principles)


def at_most(check, metric, value, bar, principles) -> Evidence:
    """pass when the measured value stays at or under the bar; not_evidenced when unmeasured."""
    status = "not_evidenced" if value is None else ("pass" if value <= bar else "fail")
    return Evidence(check, metric, value, bar, status, principles)
