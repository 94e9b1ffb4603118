"""Score one batch: suspicion → decision → exact explanation of every flagged record.

Pure: a validated frame in, a :class:`ScoredBatch` out. ``detect`` and ``evaluate`` both
use it, so what is evaluated is exactly what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import (
    Attributions,
    Composite,
    Detector,
    part_scores_of,
    parts_of,
)
from trustshield.explain.rationale import rationales
from trustshield.model_folder import TrainedModel
from trustshield.records import Decision

UNKNOWN_CATEGORY = "unknown"
#: the part of a composite that knows attack categories: a flagged record it calls normal
#: (its part score below 1, its operating point) is named UNKNOWN_CATEGORY, no technique
SUPERVISED_PART = "supervised"
#: the part that sets suspicion when it is this one: the headline adds NOVEL_HEADLINE
NOVELTY_PART, NOVEL_HEADLINE = "novelty", ", unlike normal traffic"


@dataclass(frozen=True)
class ScoredBatch:
    """Scores for all n rows; explanations for the m flagged rows (alerts and reviews)."""

    decision: Decision  # (n,)
    component: np.ndarray  # (n,) index of the part that set suspicion (0: not composite)
    flagged: np.ndarray  # (m,) row positions
    attributions: Attributions  # (m, d)
    categories: np.ndarray  # (m,) attack category named for each flagged row
    techniques: np.ndarray  # (m,) ATT&CK technique id
    rationales: np.ndarray  # (m,) one line each
    encoded: np.ndarray  # (m, d) flagged rows' encoded feature values
    features: np.ndarray  # (n, d) every row's encoded feature values
    part_names: tuple[str, ...]  # name of each value of ``component`` (see part_names)


def score_batch(model: TrainedModel, frame: pd.DataFrame) -> ScoredBatch:
    """Decisions for every row of ``frame`` (validated records, n rows), explanations and
    attack categories for the flagged ones, all through the detector protocol."""
    X = model.encoder.transform(frame)
    detector = model.detector
    scores = part_scores_of(detector, X)
    winner = scores.argmax(axis=1)
    decision = model.policy.decide(scores.max(axis=1))
    flagged = np.flatnonzero(decision.flagged)
    X_flagged = X.iloc[flagged]
    if isinstance(detector, Composite):
        attributions = detector.explain(X_flagged, scaled=scores[flagged])
    else:
        attributions = detector.explain(X_flagged)
    names_of_parts = part_names(detector)
    categories = attack_categories(detector, X_flagged)
    if SUPERVISED_PART in names_of_parts:
        # a record the supervised part calls normal is named no known attack category
        called_normal = scores[flagged, names_of_parts.index(SUPERVISED_PART)] < 1
        categories = np.where(called_normal, UNKNOWN_CATEGORY, categories).astype(object)
    techniques = np.array(
        [model.spec.technique(category=c) or "" for c in categories], dtype=object
    )
    features = X.to_numpy(dtype=np.float64)
    encoded = features[flagged]
    names = attributions.feature_names
    texts = rationales(
        headlines=_headlines(
            model, categories, techniques, np.asarray(names_of_parts, dtype=object)[winner[flagged]]
        ),
        attributions=attributions,
        X=encoded,
        reference=model.reference,
        encoded_text=lambda j, values: model.encoder.format_encoded(names[j], values),
        shown=_shown(model, frame, flagged, encoded, names),
    )
    return ScoredBatch(
        decision,
        winner,
        flagged,
        attributions,
        categories,
        techniques,
        texts,
        encoded,
        features,
        names_of_parts,
    )


def part_names(detector: Detector) -> tuple[str, ...]:
    """The name of each column of :func:`~trustshield.detectors.protocol.part_scores_of`:
    a composite's part roles, any other detector's kind."""
    if isinstance(detector, Composite):
        return tuple(detector.parts())
    return (detector.kind,)


def attack_categories(detector: Detector, X: pd.DataFrame) -> np.ndarray:
    """Attack category (str) of each row of X (n, d), shape (n,), named by the first of the
    detector and its parts that names categories (``categorize``); "unknown" when none does."""
    for candidate in (detector, *parts_of(detector)):
        if hasattr(candidate, "categorize"):
            return candidate.categorize(X)
    return np.full(len(X), UNKNOWN_CATEGORY, dtype=object)


def _shown(
    model: TrainedModel,
    frame: pd.DataFrame,
    flagged: np.ndarray,
    encoded: np.ndarray,
    names: tuple[str, ...],
):
    """``shown(j, rows)``: feature j of those flagged rows as people write it. A float64
    column's values are the encoded ones (the encoder passes them through), so they are
    read from ``encoded`` (m, d) instead of the frame; other columns from the frame."""
    encoder = model.encoder
    position = {name: j for j, name in enumerate(encoder.feature_names)}
    passed = {
        name for name, dtype in frame.dtypes.items() if dtype == np.float64 and name in position
    } - set(encoder.categorical)

    def shown(j: int, rows: np.ndarray) -> list[str]:
        name = names[j]
        if name in passed:
            return encoder.format(name, encoded[rows, position[name]])
        return encoder.format(name, frame[name].to_numpy()[flagged[rows]])

    return shown


def _headlines(model: TrainedModel, categories, techniques, winners) -> np.ndarray:
    """'Probe (T1046 Network Service Discovery)' ('Probe' alone when the spec gives the
    category no technique), plus ', unlike normal traffic' when the novelty part set the
    score (``winners``: part names); one per flagged row."""
    titles = {}
    out = np.empty(len(categories), dtype=object)
    for i, (category, technique, winner) in enumerate(zip(categories, techniques, winners)):
        key = (category, technique, winner)
        if key not in titles:
            name = model.spec.technique_names.get(technique, "")
            shown = f" ({technique} {name})".replace(" )", ")") if technique else ""
            titles[key] = f"{category}{shown}" + (NOVEL_HEADLINE if winner == NOVELTY_PART else "")
        out[i] = titles[key]
    return out
