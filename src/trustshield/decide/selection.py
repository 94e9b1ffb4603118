"""Choose the hybrid's operating points on training data only, imitating unseen attacks.

With at least two attack categories, two kinds of held-out group: every attack name
(leave-one-attack-name-out) and every category (leave-one-category-out). For each group the
supervised component is refitted without it and scores its records; the novelty component
never sees attacks at all. Normal records are scored out-of-fold. A record is alerted when
either component passes its operating point. The objective is the mean over categories of
½ · (mean detection of its held-out names) + ½ · (detection of the held-out category),
maximised subject to a ceiling on the share of normal training records alerted.

With one attack category, holding it out would leave no attack to learn from; the groups
are then the folds of a stratified split of the attack records (each fold's attacks scored
by a supervised component fitted without that fold) and the objective is their mean
detection.

The hybrid is read through its parts ("supervised", "novelty") and its scale; the search
compares candidate points without changing the detector and returns the chosen pair as
``Selection.points``, which the training pipeline applies as the hybrid's
``operating_points`` hyperparameter (its scale puts each part's point at 1); the alert and
review thresholds on that scale live in the policy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from itertools import product

import numpy as np
import pandas as pd

from trustshield.detectors.hybrid import HybridDetector
from trustshield.detectors.parallel import one_thread, run_jobs, workers_of
from trustshield.detectors.protocol import attack_mask

#: supervised operating points, as attack probabilities (compared on the log-odds scale)
PROBABILITY_GRID = (0.9, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02)
#: novelty operating points, as quantiles of out-of-fold normal novelty scores (1.0: the
#: largest, so the novelty part alerts only beyond every normal training record)
QUANTILE_GRID = (0.95, 0.96, 0.97, 0.975, 0.98, 0.985, 0.99, 0.995, 0.998, 0.999, 1.0)


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
    #: standard error of ``objective`` over its units (categories, or folds)
    objective_se: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def held_out_groups(
    labels: np.ndarray, categories: np.ndarray, *, n_folds: int, seed: int
) -> dict[tuple[str, str], np.ndarray]:
    """Boolean masks (n,) of the held-out groups, keyed (kind, group): ("name", attack) and
    ("category", category) with at least two attack categories, else ("fold", "k") for the
    attack records of each fold of a stratified split (normal records stay in training)."""
    from sklearn.model_selection import KFold  # training only

    attack = attack_mask(labels)
    if len(set(categories[attack])) >= 2:
        groups = {("name", g): labels == g for g in sorted(set(labels[attack]))}
        groups |= {("category", c): categories == c for c in sorted(set(categories[attack]))}
        return groups
    rows = np.flatnonzero(attack)
    folds = KFold(min(n_folds, len(rows)), shuffle=True, random_state=seed).split(rows)
    groups = {}
    for k, (_, held) in enumerate(folds):
        mask = np.zeros(len(labels), dtype=bool)
        mask[rows[held]] = True
        groups[("fold", str(k))] = mask
    return groups


def held_out_scores(
    hybrid: HybridDetector, X: pd.DataFrame, labels: np.ndarray, categories: np.ndarray
) -> dict[tuple[str, str], np.ndarray]:
    """Raw component scores (m, 2) of each held-out group's records, keyed (kind, group)
    (:func:`held_out_groups`)."""
    params = hybrid.get_params(deep=False)
    groups = held_out_groups(labels, categories, n_folds=params["n_folds"], seed=params["seed"])
    parts = hybrid.parts()

    def group_scores(held: np.ndarray) -> np.ndarray:
        # scores only: no category head; the groups are fitted side by side, one thread each
        sup = one_thread(parts["supervised"]).fit(X[~held], labels[~held])
        return np.column_stack([sup.suspicion(X[held]), parts["novelty"].suspicion(X[held])])

    jobs = [partial(group_scores, held) for held in groups.values()]
    return dict(zip(groups, run_jobs(jobs, workers_of(hybrid)), strict=True))


def objective(
    detection: dict[tuple[str, str], float], category_of: dict[str, str]
) -> tuple[float, dict]:
    """Mean over categories of ½ · mean name detection + ½ · category detection; with fold
    groups (one attack category), the mean detection over folds."""
    folds = [rate for (kind, _), rate in detection.items() if kind == "fold"]
    if folds:
        return float(np.mean(folds)), {}
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
    units = (
        [0.5 * v["names"] + 0.5 * v["category"] for v in per_category.values()]
        if per_category
        else [r for (kind, _), r in detection.items() if kind == "fold"]
    )
    se = float(np.std(units, ddof=1) / np.sqrt(len(units))) if len(units) > 1 else 0.0
    grid = len(PROBABILITY_GRID) * len(QUANTILE_GRID)
    by_fold = any(kind == "fold" for kind, _ in held_out)
    held_text, goal = (
        (
            f"the attack records of each of {len(held_out)} folds (one attack category: "
            "holding it out would leave no attack to learn from)",
            "the mean detection of the held-out folds",
        )
        if by_fold
        else (
            "each training attack name and each attack category",
            "the mean over categories of ½·held-out-name detection + ½·held-out-category detection",
        )
    )
    protocol = (
        f"Training file only. Held out in turn: {held_text}; the supervised model was "
        "refitted without the held-out group, the novelty model saw normal records only, and "
        f"normal records were scored {hybrid.n_folds}-fold out-of-fold. Alert when the "
        "supervised attack probability ≥ p or the novelty score ≥ its q-quantile over normal "
        f"training records; (p, q) chosen from {grid} pairs to maximise {goal} ({value:.3f}) "
        f"with at most {max_normal_fpr:.0%} of normal training records alerted ({fpr:.2%}): "
        f"p = {prob}, q = {q}. No test record was used for any choice."
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
        objective_se=se,
    )
