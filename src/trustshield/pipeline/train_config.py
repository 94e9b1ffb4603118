"""TrainConfig: the training choices fixed before seeing data (standard library only, so
the command line can show its defaults without loading the training stack)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrainConfig:
    """Choices fixed before seeing data; the combination itself is selected by protocol."""

    max_normal_fpr: float = 0.03
    review_normal_fpr: float = 0.05
    n_prototypes: int = 256
    scaling: str = "quantile"
    categorical_weight: float = 1.0
    n_estimators: int = 50
    num_leaves: int = 8
    max_depth: int = 3
    n_threads: int = 2
    seed: int = 0
    #: hardening: the supervised score never falls when an attacker moves a feature the
    #: only way the spec lets them (``increase`` → +1, ``decrease`` → -1)
    monotone: bool = False
