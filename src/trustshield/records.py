"""Frozen records passed between stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALERT, REVIEW, ALLOW = "alert", "review", "allow"
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
