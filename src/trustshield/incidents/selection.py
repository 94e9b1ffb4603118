"""Choosing between behaviour-model variants by leave-one-scenario-out on training only.

:func:`select_variant` fits each candidate (keyword options of
:func:`~trustshield.incidents.model.fit_behaviour`) on all labelled training scenarios but
one, raises incidents on the one left out, and keeps the candidate that does best over
those inner held-out scenarios: most scenarios *met* (a malware scenario: an incident
names a host with malicious flows and benign evidence stays within ``max_fpr``; a capture
without malicious flows: no incident), then the highest mean malicious-flow recall among
the malware scenarios within budget. Ties keep the earlier candidate. The scenario judged
by the caller is never among ``training``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from trustshield.errors import DataError
from trustshield.incidents.model import Scenario, detect_incidents, fit_behaviour


@dataclass(frozen=True)
class InnerFigures:
    """One candidate on one inner held-out scenario: ``met`` as the module states,
    ``recall`` (None on a capture without malicious flows), ``fpr``, ``incidents``."""

    scenario: str
    met: bool
    recall: float | None
    fpr: float
    incidents: int


@dataclass(frozen=True)
class Selection:
    """The chosen candidate (index into the candidates) and every candidate's figures."""

    chosen: int
    figures: tuple[tuple[InnerFigures, ...], ...]

    def score(self, index: int) -> tuple[int, float]:
        """(scenarios met, mean recall of the malware scenarios within budget)."""
        rows = self.figures[index]
        recalls = [r.recall if r.met else 0.0 for r in rows if r.recall is not None]
        return sum(r.met for r in rows), float(np.mean(recalls)) if recalls else 0.0


def inner_figures(
    test: Scenario, training: Sequence[Scenario], options: dict[str, Any], max_fpr: float
) -> InnerFigures:
    """``test`` judged by a model fitted on ``training`` with ``options``."""
    assert test.malicious is not None
    model = fit_behaviour(training, max_fpr=max_fpr, **options)
    incidents = detect_incidents(model, test.flows, test.table)
    uids = {u for i in incidents for u in i.evidence_uids}
    evidence = test.flows["uid"].astype(str).isin(uids).to_numpy()
    malicious = test.malicious
    fpr = float(evidence[~malicious].mean()) if (~malicious).any() else 0.0
    if not malicious.any():
        return InnerFigures(test.name, not incidents, None, fpr, len(incidents))
    infected = set(test.flows.loc[malicious, "id.orig_h"].astype(str))
    found = any(i.host in infected for i in incidents)
    recall = float(evidence[malicious].mean())
    return InnerFigures(test.name, found and fpr <= max_fpr, recall, fpr, len(incidents))


def select_variant(
    training: Sequence[Scenario],
    candidates: Sequence[dict[str, Any]],
    *,
    max_fpr: float = 0.01,
) -> Selection:
    """The candidate that does best by leave-one-scenario-out over the labelled
    ``training`` scenarios (see the module). DataError without candidates or with fewer
    than three labelled training scenarios (each inner fit needs two for its own
    operating point)."""
    if not candidates:
        raise DataError("variant selection needs at least one candidate")
    labelled = [s for s in training if s.malicious is not None and "uid" in s.flows.columns]
    if len(labelled) < 3:
        raise DataError(
            f"variant selection needs at least 3 labelled conn logs with uids, got {len(labelled)}"
        )
    figures = tuple(
        tuple(
            inner_figures(s, [r for r in labelled if r is not s], dict(options), max_fpr)
            for s in labelled
        )
        for options in candidates
    )
    partial = Selection(0, figures)
    best = max(range(len(candidates)), key=lambda i: (partial.score(i), -i))
    return Selection(best, figures)
