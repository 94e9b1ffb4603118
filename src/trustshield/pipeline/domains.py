"""Train a ``domain`` detector with its operating point, and score domain names with it.

The threshold is set where 1 % of legitimate training domains the detector did not fit on
(a fifth of them, kept aside) would alert. A domain model is one plain-JSON document
(:func:`model_document`): the detector state, the threshold, how it was set and the
training data's sha256, with the sha256 of its own content (checked on load; never a
pickle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustshield.detectors.domain import COLUMN, DomainDetector
from trustshield.detectors.registry import detector_from_dict
from trustshield.errors import ModelIntegrityError
from trustshield.decide.text_model import document_digest

FPR = 0.01  #: share of held-out legitimate training domains the threshold lets alert
HELD_OUT = 0.2  #: share of legitimate training domains kept aside for the threshold
FORMAT = "trustshield-domain-model/1"


@dataclass(frozen=True)
class DomainModel:
    """A fitted detector and its threshold (suspicion above it alerts)."""

    detector: DomainDetector
    threshold: float
    calibration: dict[str, Any]


@dataclass(frozen=True)
class DomainVerdict:
    """One scored domain: score (log-odds, higher = more suspicious), alert, likely
    family, and its characters with their attributions (summing, with ``base``, to
    ``score``)."""

    domain: str
    name: str
    score: float
    alert: bool
    family: str
    family_p: float
    base: float
    characters: tuple[float, ...]
    features: tuple[tuple[str, float, float], ...]
    ngrams: tuple[tuple[str, float], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "name": self.name,
            "score": self.score,
            "alert": self.alert,
            "family": self.family if self.alert else None,
            "family_probability": self.family_p if self.alert else None,
            "base": self.base,
            "characters": list(self.characters),
            "features": [list(f) for f in self.features],
            "ngrams": [list(t) for t in self.ngrams],
        }


def train(domains: np.ndarray, labels: np.ndarray, seed: int = 0, **params: Any) -> DomainModel:
    """Fit on ``domains`` (n,) with ``labels`` (n,) ("normal" or the family) less a
    held-out fifth of the legitimate ones, which set the threshold at 1 % FPR."""
    legit = np.flatnonzero(np.asarray(labels) == "normal")
    kept = np.random.default_rng(seed).choice(
        legit, size=max(1, int(len(legit) * HELD_OUT)), replace=False
    )
    fit_rows = np.setdiff1d(np.arange(len(domains)), kept)
    detector = DomainDetector(seed=seed, **params).fit(
        pd.DataFrame({COLUMN: list(domains[fit_rows])}), labels[fit_rows]
    )
    held = detector.suspicion(pd.DataFrame({COLUMN: list(domains[kept])}))
    threshold = float(np.quantile(held, 1 - FPR))
    calibration = {
        "rule": f"{FPR:.0%} of held-out legitimate training domains alert",
        "held_out_legitimate": len(kept),
        "fitted_rows": len(fit_rows),
        "held_out_alert_share": float((held > threshold).mean()),
    }
    return DomainModel(detector, threshold, calibration)


def model_document(model: DomainModel, data: dict[str, Any]) -> dict[str, Any]:
    """The plain-JSON document of a domain model; ``data`` names its training data;
    ``sha256`` is that of the rest of the document in canonical JSON (sorted keys, no
    blanks), checked by :func:`model_from_document`."""
    body = {
        "format": FORMAT,
        "threshold": model.threshold,
        "calibration": model.calibration,
        "data": data,
        "detector": model.detector.to_dict(),
    }
    return {**body, "sha256": document_digest(body)}


def model_from_document(document: dict[str, Any]) -> DomainModel:
    """A domain model back from :func:`model_document`; ModelIntegrityError otherwise."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ModelIntegrityError(f"not a domain model: expected format {FORMAT!r}")
    body = {k: v for k, v in document.items() if k != "sha256"}
    if document_digest(body) != document.get("sha256"):
        raise ModelIntegrityError(
            "domain model: its content does not match its sha256 (altered, or written "
            "before models carried one: train it again); refusing to load"
        )
    detector = detector_from_dict(document["detector"])
    if not isinstance(detector, DomainDetector):
        raise ModelIntegrityError("a domain model's detector must be of kind 'domain'")
    return DomainModel(detector, float(document["threshold"]), dict(document["calibration"]))


def score(model: DomainModel, domains: list[str], top: int = 5) -> list[DomainVerdict]:
    """Verdicts for ``domains`` (n,), in order; ``top`` features and n-gram terms each."""
    e = model.detector.explain_domains(pd.DataFrame({COLUMN: domains}), model.threshold)
    out = []
    for i in range(len(domains)):
        out.append(
            DomainVerdict(
                domain=e.domains[i],
                name=e.names[i],
                score=float(e.score[i]),
                alert=bool(e.score[i] > model.threshold),
                family=e.family[i],
                family_p=float(e.family_p[i]),
                base=float(e.base[i]),
                characters=tuple(float(c) for c in e.characters_of(i)),
                features=tuple(e.features(i)[:top]),
                ngrams=tuple(e.ngrams(i, top)),
            )
        )
    return out
