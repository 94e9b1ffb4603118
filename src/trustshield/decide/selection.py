"""Choose the hybrid's operating points on training data only, imitating unseen attacks.

Two kinds of held-out group: every attack name (leave-one-attack-name-out) and every
category (leave-one-category-out). For each group the supervised component is refitted
without it and scores its records; the novelty component never sees attacks at all.
Normal records are scored out-of-fold. A record is alerted when either component passes
its operating point. The objective is the mean over categories of
½ · (mean detection of its held-out names) + ½ · (detection of the held-out category),
maximised subject to a ceiling on the share of normal training records alerted.

The hybrid is read through its parts ("supervised", "novelty") and its scale; the search
compares candidate points without changing the detector and returns the chosen pair as
``Selection.points``, which the training pipeline applies as the hybrid's
``operating_points`` hyperparameter (its scale puts each part's point at 1); the alert and
review thresholds on that scale live in the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import product

import numpy as np
import pandas as pd

from trustshield.detectors.hybrid import HybridDetector
from trustshield.detectors.params import clone
from trustshield.detectors.protocol import attack_mask

#: supervised operating points, as attack probabilities (compared on the log-odds scale)
PROBABILITY_GRID = (0.9, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02)
#: novelty operating points, as quantiles of out-of-fold normal novelty scores
QUANTILE_GRID = (0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99, 0.995, 0.998)


@dataclass
class Selection:
    """The chosen operating points and the evidence that chose them."""

    probability: float
    quantile: float
    normal_fpr: float
    objective: float
    per_category: dict[str, dict[str, float]]
    grid_size: int
    protocol: str = ""
    per_group: dict[str, float] = field(default_factory=dict)
    #: raw-score operating point per part (supervised log-odds, novelty score)
    points: tuple[float, float] = (0.0, 0.0)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def held_out_scores(
    hybrid: HybridDetector, X: pd.DataFrame, labels: np.ndarray, categories: np.ndarray
) -> dict[tuple[str, str], np.ndarray]:
    """Raw component scores (m, 2) of each held-out group's records, keyed (kind, group)."""
    attack = attack_mask(labels)
    groups = [("name", g) for g in sorted(set(labels[attack]))]
    groups += [("category", c) for c in sorted(set(categories[attack]))]
    parts = hybrid.parts()
    scores = {}
    for kind, group in groups:
        held = (labels if kind == "name" else categories) == group
        # scores only: no category head
        sup = clone(parts["supervised"]).fit(X[~held], labels[~held])
        scores[(kind, group)] = np.column_stack(
            [sup.suspicion(X[held]), parts["novelty"].suspicion(X[held])]
        )
    return scores


def objective(
    detection: dict[tuple[str, str], float], category_of: dict[str, str]
) -> tuple[float, dict]:
    """Mean over categories of ½ · mean name detection + ½ · category detection."""
    per_category = {}
    for (kind, category), rate in detection.items():
        if kind != "category":
            continue
        names = [
            r for (k, g), r in detection.items() if k == "name" and category_of.get(g) == category
        ]
        per_category[category] = {
            "names": float(np.mean(names)) if names else rate,
            "category": rate,
        }
    value = float(np.mean([0.5 * v["names"] + 0.5 * v["category"] for v in per_category.values()]))
    return value, per_category


def select_operating_points(
    hybrid: HybridDetector, held_out: dict, category_of: dict[str, str], *, max_normal_fpr: float
) -> Selection:
    """Best (probability, quantile) pair under the ceiling; ``hybrid`` is left unchanged."""
    normal = hybrid.normal_out_of_fold()
    best = None
    for prob, q in product(PROBABILITY_GRID, QUANTILE_GRID):
        points = (np.log(prob / (1 - prob)), np.quantile(normal[:, 1], q))
        fpr = float((hybrid.scaled(normal, points).max(axis=1) >= 1).mean())
        detection = {
            k: float((hybrid.scaled(s, points).max(axis=1) >= 1).mean())
            for k, s in held_out.items()
        }
        value, per_category = objective(detection, category_of)
        key = (fpr <= max_normal_fpr, value, -fpr)
        if best is None or key > best[0]:
            best = (key, prob, q, points, fpr, value, per_category, detection)
    if best is None:
        raise ValueError("the operating-point grid is empty")
    _, prob, q, points, fpr, value, per_category, detection = best
    grid = len(PROBABILITY_GRID) * len(QUANTILE_GRID)
    protocol = (
        "Training file only. Held out in turn: each training attack name and each attack "
        "category; the supervised model was refitted without the held-out group, the novelty "
        "model saw normal records only, and normal records were scored "
        f"{hybrid.n_folds}-fold out-of-fold. Alert when the supervised attack probability ≥ p "
        "or the novelty score ≥ its q-quantile over normal training records; (p, q) chosen "
        f"from {grid} pairs to maximise the mean over categories of ½·held-out-name detection "
        f"+ ½·held-out-category detection ({value:.3f}) with at most {max_normal_fpr:.0%} of "
        f"normal training records alerted ({fpr:.2%}): p = {prob}, q = {q}. "
        "No test record was used for any choice."
    )
    return Selection(
        probability=prob,
        quantile=q,
        normal_fpr=fpr,
        objective=value,
        per_category=per_category,
        grid_size=grid,
        protocol=protocol,
        per_group={f"{k}:{g}": r for (k, g), r in detection.items()},
        points=(float(points[0]), float(points[1])),
    )
