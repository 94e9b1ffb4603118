"""Evidence for authentication: verification accuracy, and the fail-safe rules checked live.

``verification_evidence`` reads the figures of the keystroke and mouse benchmarks
(``trustshield.pipeline.keystroke_benchmark`` / ``mouse_benchmark``).
``fail_safe_evidence`` runs a fitted policy through every failure the rules name (a
missing sample, a malformed one, a verifier that fails to load or to score, a score in
the uncertain band, too few agreeing samples) and passes only if none of them is denied.
"""

from __future__ import annotations

import numpy as np

from trustshield.assess.evidence import ROBUSTNESS, at_least, at_most
from trustshield.decide.authentication import AuthPolicy, decide_safely
from trustshield.records import DENY, STEP_UP, Evidence

SAFETY = ("OECD: robustness, security and safety", "EU AI Act Art. 14 (human oversight)")
#: keystroke: at most this share of the best classic detector's mean EER; mouse: pooled AUC
BARS = {"keystroke_eer_ratio": 0.75, "mouse_auc": 0.85}


def verification_evidence(
    *, keystroke: dict | None = None, mouse: dict | None = None
) -> list[Evidence]:
    """Keystroke mean EER against the best classic detector's, and mouse pooled AUC."""
    k = keystroke or {}
    best = k.get("baselines", {}).get(k.get("best_baseline"), {}).get("mean")
    ours = k.get("ours", {}).get("mean")
    return [
        at_most(
            "keystroke verification",
            "mean EER over subjects (Killourhy & Maxion protocol) ÷ the best classic detector's",
            None if None in (ours, best) or not best else ours / best,
            BARS["keystroke_eer_ratio"],
            ROBUSTNESS,
        ),
        at_least(
            "mouse verification",
            "pooled session-level ROC AUC on held-out sessions",
            (mouse or {}).get("auc_pooled"),
            BARS["mouse_auc"],
            ROBUSTNESS,
        ),
    ]


class _Fails:
    """A stand-in verifier that raises while scoring."""

    def suspicion(self, samples):
        raise RuntimeError("scoring failed")


class _Scores:
    """A stand-in verifier that returns the given scores."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=float)

    def suspicion(self, samples):
        return self.scores[: len(samples)]


def fail_safe_evidence(policy: AuthPolicy) -> list[Evidence]:
    """Run ``policy`` (fitted) through each failure case; pass when none is denied and
    each is stepped up."""
    accept, deny = policy.accept_threshold_, policy.deny_threshold_
    high, middle = deny + abs(deny) + 1.0, (accept + deny) / 2
    rows = [[0.0]] * 5

    def broken_load():
        raise OSError("template missing")

    cases = {
        "verifier fails to load": decide_safely(broken_load, rows),
        "verifier fails to score": decide_safely(lambda: (_Fails(), policy), rows),
        "sample missing": decide_safely(lambda: (_Scores([high] * 5), policy), [None] + rows[1:]),
        "sample malformed": decide_safely(
            lambda: (_Scores([high] * 5), policy), [[float("nan")]] + rows[1:]
        ),
        "score in the uncertain band": policy.decide([middle] * 5),
        "too few agreeing samples": policy.decide([high, high, middle]),
        "no samples": policy.decide([]),
    }
    stepped = {name: d.action for name, d in cases.items()}
    failed = sorted(name for name, action in stepped.items() if action != STEP_UP)
    return [
        Evidence(
            "fail-safe authentication",
            f"{len(cases)} failure cases, each stepped up, "
            "none denied" + (f"; failed: {', '.join(failed)}" if failed else ""),
            float(sum(a == STEP_UP for a in stepped.values())),
            float(len(cases)),
            "pass" if not failed and DENY not in stepped.values() else "fail",
            SAFETY,
        )
    ]
