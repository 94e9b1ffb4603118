"""Operating points chosen by leave-one-scenario-out on training scenarios only.

Each training scenario is scored by a model fitted on the other training scenarios
(:class:`HeldOut`); the threshold is the lowest suspicion at which, on every held-out
scenario, the benign flows that become evidence stay within ``max_fpr`` of its benign
flows and a scenario without malicious flows raises nothing. Pure: the caller fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trustshield.errors import DataError


@dataclass(frozen=True)
class HeldOut:
    """One training scenario scored by a model that did not see it: ``scores`` (n,) per
    channel window, ``malicious`` (m,) bool per flow, ``evidence`` maps a flagged-row mask
    (n,) to the flows (m,) that become evidence."""

    name: str
    scores: np.ndarray
    malicious: np.ndarray
    evidence: Callable[[np.ndarray], np.ndarray]


def scenario_threshold(held: HeldOut, *, max_fpr: float = 0.01) -> float:
    """The lowest threshold (flag rows with score > threshold) keeping ``held`` within its
    budget: benign evidence flows ≤ max_fpr × benign flows, none at all when the scenario
    has no malicious flow. +inf never happens: the highest score is always allowed.

    Evidence only grows as the threshold falls (more rows flagged), so the lowest allowed
    candidate is found by bisection over the distinct scores (O(log n) evidence calls)."""
    benign = ~np.asarray(held.malicious, bool)
    scores = np.asarray(held.scores, float)
    allowed = 0 if benign.all() else max_fpr * benign.sum()
    candidates = [*np.unique(scores)[::-1], -np.inf]
    if not len(scores):
        return -np.inf

    def within(c: float) -> bool:
        flows = held.evidence(scores > c)
        return not ((flows & benign).sum() > allowed or (benign.all() and flows.any()))

    lo, hi = 0, len(candidates) - 1  # candidates[lo] is allowed (flags nothing)
    if within(candidates[hi]):
        return float(candidates[hi])
    while hi - lo > 1:  # invariant: candidates[lo] allowed, candidates[hi] not
        mid = (lo + hi) // 2
        if within(candidates[mid]):
            lo = mid
        else:
            hi = mid
    return float(candidates[lo])


def operating_point(held_out: Sequence[HeldOut], *, max_fpr: float = 0.01) -> float:
    """The strictest of the held-out scenarios' thresholds (every one keeps its budget)."""
    if not held_out:
        raise DataError("an operating point needs at least one held-out training scenario")
    return max(scenario_threshold(h, max_fpr=max_fpr) for h in held_out)
