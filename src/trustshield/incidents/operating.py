"""Operating points chosen by leave-one-scenario-out on training scenarios only.

Each training scenario is scored by a model fitted on the other training scenarios
(:class:`HeldOut`); the threshold is the lowest suspicion at which, on every held-out
scenario, the benign flows that become evidence stay within ``max_fpr`` of its benign
flows and a scenario without malicious flows raises nothing. With ``margin``, the
operating point is moved up, halfway towards the lowest score it still needs: the middle of
the range of thresholds that keep every budget and catch, on every held-out scenario, as
many malicious flows as the lowest one does (max margin between the benign scores it must
stay above and the malicious scores it needs, not at the edge of the benign ones). Pure:
the caller fits.
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


def operating_point(
    held_out: Sequence[HeldOut], *, max_fpr: float = 0.01, margin: bool = False
) -> float:
    """The strictest of the held-out scenarios' thresholds (every one keeps its budget);
    with ``margin``, the max-margin threshold of the module's description."""
    if not held_out:
        raise DataError("an operating point needs at least one held-out training scenario")
    lowest = max(scenario_threshold(h, max_fpr=max_fpr) for h in held_out)
    if not margin or not np.isfinite(lowest):
        return lowest
    uppers = [u for h in held_out if (u := keeping_threshold(h, lowest)) is not None]
    return (lowest + min(uppers)) / 2 if uppers else lowest


def keeping_threshold(held: HeldOut, threshold: float) -> float | None:
    """The end of the range of thresholds from ``threshold`` up that catch as many of
    ``held``'s malicious flows as ``threshold`` does: the lowest score above it whose row
    is needed (flagging with that score as threshold catches fewer). None when
    ``threshold`` catches no malicious flow. Bisection over the distinct scores above it."""
    malicious = np.asarray(held.malicious, bool)
    scores = np.asarray(held.scores, float)

    def caught(c: float) -> int:
        return int((held.evidence(scores > c) & malicious).sum())

    need = caught(threshold)
    if need == 0:
        return None
    above = np.unique(scores[scores > threshold])  # ascending; caught(above[-1]) == 0
    lo, hi = -1, len(above) - 1  # invariant: caught(above[lo]) == need (lo=-1: threshold)
    while hi - lo > 1:  # caught(above[hi]) < need
        mid = (lo + hi) // 2
        if caught(float(above[mid])) >= need:
            lo = mid
        else:
            hi = mid
    return float(above[hi])
