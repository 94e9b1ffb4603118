"""Score one batch: suspicion → decision → exact explanation of every flagged record.

Pure: a validated frame in, a :class:`ScoredBatch` out. ``detect`` and ``evaluate`` both
use it, so what is evaluated is exactly what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions
from trustshield.explain.rationale import rationales
from trustshield.pipeline.artifact import TrainedModel
from trustshield.records import Decision

COMPONENT_NAMES = ("supervised", "novelty")


@dataclass(frozen=True)
class ScoredBatch:
    """Scores for all n rows; explanations for the m flagged rows (alerts and reviews)."""

    decision: Decision             # (n,)
    component: np.ndarray          # (n,) index of the component that set suspicion
    flagged: np.ndarray            # (m,) row positions
    attributions: Attributions     # (m, d)
    categories: np.ndarray         # (m,) attack category named for each flagged row
    techniques: np.ndarray         # (m,) ATT&CK technique id
    rationales: np.ndarray         # (m,) one line each
    encoded: np.ndarray            # (m, d) flagged rows' encoded feature values


def score_batch(model: TrainedModel, frame: pd.DataFrame) -> ScoredBatch:
    X = model.encoder.transform(frame)
    detector = model.detector
    scaled = detector.scaled(detector.component_scores(X))
    winner = scaled.argmax(axis=1)
    decision = model.policy.decide(scaled.max(axis=1))
    flagged = np.flatnonzero(decision.flagged)
    X_flagged = X.iloc[flagged]
    attributions = detector.explain(X_flagged, scaled=scaled[flagged])
    categories = detector.supervised.categorize(X_flagged)
    techniques = np.array([model.spec.technique(category=c) or "" for c in categories], dtype=object)
    encoded = X_flagged.to_numpy()
    raw = frame.iloc[flagged]
    texts = rationales(
        headlines=_headlines(model, categories, techniques, winner[flagged]),
        attributions=attributions, X=encoded, reference=model.reference,
        encoded_text=lambda j, values: model.encoder.format_encoded(attributions.feature_names[j], values),
        shown=lambda j, rows: model.encoder.format(
            attributions.feature_names[j], raw[attributions.feature_names[j]].to_numpy()[rows]))
    return ScoredBatch(decision, winner, flagged, attributions, categories, techniques,
                       texts, encoded)


def _headlines(model: TrainedModel, categories, techniques, winners) -> np.ndarray:
    """'Probe (T1046 Network Service Discovery)', plus ', unlike normal traffic' when the
    novelty component set the score; one per flagged row."""
    titles = {}
    out = np.empty(len(categories), dtype=object)
    for i, (category, technique, winner) in enumerate(zip(categories, techniques, winners)):
        key = (category, technique, winner)
        if key not in titles:
            name = model.spec.technique_names.get(technique, "")
            titles[key] = f"{category} ({technique} {name})".replace(" )", ")") + \
                (", unlike normal traffic" if winner == 1 else "")
        out[i] = titles[key]
    return out
