"""Score one batch: suspicion → decision → exact explanation of every flagged record.

Pure: a validated frame in, a :class:`ScoredBatch` out. ``detect`` and ``evaluate`` both
use it, so what is evaluated is exactly what is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions
from trustshield.explain.rationale import rationale
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
    shown: np.ndarray              # (m, d) flagged rows' feature values as text


def score_batch(model: TrainedModel, frame: pd.DataFrame) -> ScoredBatch:
    X = model.encoder.transform(frame)
    detector = model.detector
    scaled = detector.scaled(detector.component_scores(X))
    winner = scaled.argmax(axis=1)
    decision = model.policy.decide(scaled.max(axis=1))
    flagged = np.flatnonzero(decision.flagged)
    X_flagged = X.iloc[flagged]
    attributions = detector.explain(X_flagged)
    categories = detector.supervised.categorize(X_flagged)
    techniques = np.array([model.spec.technique(category=c) or "" for c in categories], dtype=object)
    shown = model.encoder.display(frame.iloc[flagged])
    texts = _rationales(model, shown, X_flagged, attributions, categories, techniques,
                        winner[flagged])
    return ScoredBatch(decision, winner, flagged, attributions, categories, techniques,
                       texts, shown)


def _rationales(model, shown: np.ndarray, X: pd.DataFrame, attributions: Attributions,
                categories, techniques, winners) -> np.ndarray:
    encoded = X.to_numpy()
    out = np.empty(len(shown), dtype=object)
    for i in range(len(shown)):
        technique = techniques[i]
        title = model.spec.technique_names.get(technique, "")
        headline = f"{categories[i]} ({technique} {title})".replace(" )", ")")
        if winners[i] == 1:
            headline += ", unlike normal traffic"
        out[i] = rationale(headline=headline, attributions=attributions, row=i,
                           shown_values=list(shown[i]), raw_values=encoded[i],
                           reference=model.reference)
    return out
