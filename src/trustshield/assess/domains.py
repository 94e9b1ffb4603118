"""Evidence of the ``domain`` detector from ``benchmarks/domains.py`` figures.

Bars (issue: malicious domain names): leave-one-family-out mean detection at 1 % FPR
≥ 0.90 and ≥ 0.6 on every wordlist family, random-split ROC AUC ≥ 0.99, ≥ 100,000
domains/s scored with explanations, explanations exact to 1e-9. A figure not measured is
``not_evidenced``.
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
WORDLIST = ("matsnu", "suppobox", "gozi")


def domain_evidence(figures: dict) -> list[Evidence]:
    """Evidence rows from the benchmark's figures (its JSON as a dict)."""
    ours_lofo = figures.get("leave_one_family_out", {}).get("trustshield", {})
    per_family = ours_lofo.get("per_family", {})
    random = figures.get("random_split", {}).get("trustshield", {})
    speed = figures.get("throughput", {})
    wordlist = [per_family[f] for f in WORDLIST if f in per_family]
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
            "least leave-one-family-out detection of " + ", ".join(WORDLIST),
            min(wordlist) if len(wordlist) == len(WORDLIST) else None,
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
