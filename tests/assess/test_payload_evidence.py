"""Evidence of the payload use case and the benchmark's threshold rule."""

import numpy as np
import pytest

from trustshield.assess.payload_evidence import payload_evidence
from trustshield.pipeline.payload_benchmark import threshold_at


def figures(ours_evasion=0.0, peer_evasion=0.2, sqli=0.99, fpr=0.0005, gap=1e-12):
    def model(recall, evasion):
        return {
            "test": {"sqli": recall, "fpr": fpr, "false_positives": 3},
            "evasion": {"rate": evasion},
            "guided_evasion": {"rate": evasion},
        }

    return {
        "settings": {"target_fpr": 0.001, "moves": 5, "tries": 20},
        "models": {"hardened": model(sqli, ours_evasion), "tfidf": model(0.98, peer_evasion)},
        "explanations": {"max_abs_sum_error": gap, "character_max_abs_sum_error": gap, "rows": 9},
        "throughput": {"payloads_per_cpu_s": 60_000.0},
        "data": {"train": {"sha256": "a" * 64}, "test": {"sha256": "b" * 64}},
    }


def statuses(f):
    return {
        (e.check, e.metric.split(" ")[2] if e.check == "detection" else ""): e.status
        for e in payload_evidence(f)
    }


def test_all_bars_reached_pass():
    assert set(statuses(figures()).values()) == {"pass"}


@pytest.mark.parametrize(
    "change, check",
    [
        ({"sqli": 0.97}, ("detection", "sqli")),
        ({"fpr": 0.002}, ("false alarms", "")),
        ({"gap": 1e-6}, ("explanation exactness", "")),
        ({"ours_evasion": 0.15}, ("evasion resistance", "")),
    ],
)
def test_a_figure_below_its_bar_fails_that_check_only(change, check):
    got = statuses(figures(**change))
    assert got[check] == "fail"
    assert [k for k, v in got.items() if v != "pass"] in (
        [check],
        [check, ("baseline comparison", "")],
    )


def test_unmeasured_figures_are_not_evidenced():
    evidence = payload_evidence({})
    assert {e.status for e in evidence} == {"not_evidenced"}


def test_threshold_keeps_the_share_above_it_within_the_target():
    scores = np.arange(10_000, dtype=float)
    plain = threshold_at(scores, 0.001)
    assert (scores > plain).sum() == 10
    bounded = threshold_at(scores, 0.001, confidence=0.95)
    assert bounded > plain and (scores > bounded).sum() == 4
