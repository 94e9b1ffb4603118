"""Label-flip poisoning, the attacker's move and its evidence: relabel a share of attack
records as normal, at random or all within one attack category (to blind the detector to
it); the study that retrains on the poisoned file is :mod:`trustshield.pipeline.poisoning`.
"""

from __future__ import annotations

import numpy as np

from trustshield.assess.evidence import RESILIENCE, at_most
from trustshield.records import Evidence

#: largest acceptable drop in test detection rate after 5 % random label flips
MAX_DETECTION_DROP = 0.05
EVIDENCE_RATE = 0.05


def flip_labels(
    labels: np.ndarray,
    categories: np.ndarray,
    *,
    rate: float,
    target: str | None = None,
    normal_label: str,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Relabel ``round(rate × number of attack records)`` attack records as normal.

    With ``target`` (a category name), only records of that category are flipped; the
    count is still relative to ALL attack records, so rates are comparable between random
    and targeted runs, and it is capped at the size of that category. Deterministic for a
    given seed. Returns (new labels, mask of flipped rows).
    """
    labels = np.asarray(labels, dtype=object)
    categories = np.asarray(categories, dtype=object)
    if labels.shape != categories.shape:
        raise ValueError(f"labels {labels.shape} and categories {categories.shape} differ in shape")
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    attack = labels != normal_label
    pool = attack if target is None else attack & (categories == target)
    if target is not None and not pool.any():
        raise ValueError(f"no attack records of category {target!r} to flip")
    count = min(int(round(rate * int(attack.sum()))), int(pool.sum()))
    chosen = np.random.default_rng(seed).choice(np.flatnonzero(pool), size=count, replace=False)
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[chosen] = True
    new = labels.copy()
    new[flipped] = normal_label
    return new, flipped


def largest_attack_category(categories: np.ndarray, labels: np.ndarray, normal_label: str) -> str:
    """The category with the most attack records (ties: alphabetical first)."""
    attack_categories = np.asarray(categories, dtype=object)[
        np.asarray(labels, dtype=object) != normal_label
    ]
    names, counts = np.unique(attack_categories.astype(str), return_counts=True)
    return str(names[np.argmax(counts)])


def poisoning_evidence(study: dict) -> list[Evidence]:
    """Detection drop at 5 % random flips, without and with the sanitiser."""
    run = next(
        (
            r
            for r in study.get("runs", ())
            if r.get("target") is None and abs(r.get("rate", -1) - EVIDENCE_RATE) < 1e-9
        ),
        None,
    )
    clean = study.get("clean", {}).get("detection_rate")
    plain = None if run is None else run["drop"]
    cleaned = None if run is None or clean is None else clean - run["sanitised"]["detection_rate"]
    return [
        at_most(
            "poisoning resilience",
            "drop in test detection rate after 5 % of training "
            "attack labels were flipped to normal at random",
            _number(plain),
            MAX_DETECTION_DROP,
            RESILIENCE,
        ),
        at_most(
            "poisoning resilience (sanitised training)",
            "drop in test detection rate after the same flips, training on sanitised data",
            _number(cleaned),
            MAX_DETECTION_DROP,
            RESILIENCE,
        ),
    ]


def _number(value) -> float | None:
    return None if value is None else float(value)
