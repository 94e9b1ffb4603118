"""Frozen records passed between stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALERT, REVIEW, ALLOW = "alert", "review", "allow"
#: authentication outcomes: let the user in, ask for a second factor, refuse
ACCEPT, STEP_UP, DENY = "accept", "step_up", "deny"
STATUSES = ("pass", "fail", "not_evidenced")


@dataclass(frozen=True)
class Decision:
    """What a policy decided for each record: ``actions`` (n,) of alert/review/allow."""

    actions: np.ndarray
    suspicion: np.ndarray

    @property
    def alerted(self) -> np.ndarray:
        return self.actions == ALERT

    @property
    def flagged(self) -> np.ndarray:
        """Rows an analyst sees: alerts and reviews."""
        return self.actions != ALLOW


@dataclass(frozen=True)
class AuthDecision:
    """What an authentication policy decided for one attempt (a sequence of samples).

    ``action`` is accept / step_up / deny; ``reason`` says why in one sentence;
    ``scores`` holds each sample's suspicion (None where a sample was missing, malformed
    or could not be scored). ``accept_threshold`` and ``deny_threshold`` are the
    thresholds applied (None when no policy could be loaded).
    """

    action: str
    reason: str
    scores: tuple[float | None, ...] = ()
    accept_threshold: float | None = None
    deny_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.action not in (ACCEPT, STEP_UP, DENY):
            raise ValueError(f"AuthDecision action must be one of {(ACCEPT, STEP_UP, DENY)}, "
                             f"got {self.action!r}")

    def as_dict(self) -> dict:
        return {"action": self.action, "reason": self.reason, "scores": list(self.scores),
                "accept_threshold": self.accept_threshold,
                "deny_threshold": self.deny_threshold}


@dataclass(frozen=True)
class Evidence:
    """One measured check: what was measured, the figure, the bar, and the verdict."""

    check: str
    metric: str
    value: float | None
    threshold: float | None
    status: str
    principles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Evidence status must be one of {STATUSES}, got {self.status!r}")

    def as_dict(self) -> dict:
        return {"check": self.check, "metric": self.metric, "value": self.value,
                "threshold": self.threshold, "status": self.status,
                "principles": list(self.principles)}
