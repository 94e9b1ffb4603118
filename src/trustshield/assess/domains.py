"""Evidence of the ``domain`` detector from ``benchmarks/domains.py`` figures.

Bars (issue: malicious domain names): leave-one-family-out mean detection at 1 % FPR
≥ 0.90 and ≥ 0.6 on every wordlist family, random-split ROC AUC ≥ 0.99, ≥ 100,000
domains/s scored with explanations, explanations exact to 1e-9. A figure not measured is
``not_evidenced``. Which families are wordlist families is the benchmark's to say (its
``leave_one_family_out.trustshield.wordlist``: family → detection); none named, that bar
is not evidenced.
"""

from __future__ import annotations

from trustshield.assess.evidence import ROBUSTNESS, TRANSPARENCY, at_least, at_most
from trustshield.records import Evidence

BARS = {
    "lofo_mean": 0.90,
    "lofo_wordlist": 0.6,
    "auc": 0.99,
    "per_second": 100_000,
    "max_abs_sum_error": 1e-9,
}


def domain_evidence(figures: dict) -> list[Evidence]:
    """Evidence rows from the benchmark's figures (its JSON as a dict)."""
    ours_lofo = figures.get("leave_one_family_out", {}).get("trustshield", {})
    per_family = ours_lofo.get("per_family", {})
    random = figures.get("random_split", {}).get("trustshield", {})
    speed = figures.get("throughput", {})
    wordlist = ours_lofo.get("wordlist", {})
    return [
        at_least(
            "DGA detection, unseen families",
            "leave-one-family-out mean detection at 1 % FPR on training legitimate domains",
            ours_lofo.get("mean_detection") if len(per_family) >= 2 else None,
            BARS["lofo_mean"],
            ROBUSTNESS,
        ),
        at_least(
            "DGA detection, unseen wordlist families",
            "least leave-one-family-out detection of " + (", ".join(wordlist) or "none named"),
            min(wordlist.values()) if wordlist else None,
            BARS["lofo_wordlist"],
            ROBUSTNESS,
        ),
        at_least(
            "DGA ranking",
            "ROC AUC on a random 30 % of the domains",
            random.get("auc"),
            BARS["auc"],
            ROBUSTNESS,
        ),
        at_least(
            "domain throughput",
            "domains per second scored with explanations",
            speed.get("explained_per_s"),
            BARS["per_second"],
            ROBUSTNESS,
        ),
        at_most(
            "domain explanation exactness",
            "max |base + Σ character attributions − score| over the scored domains",
            speed.get("max_abs_sum_error"),
            BARS["max_abs_sum_error"],
            TRANSPARENCY,
        ),
    ]
