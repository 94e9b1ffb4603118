"""Keystroke verifiers: one model per user, fitted on that user's enrolment typings.

Every verifier follows the one-user contract: ``fit(X_enrol) -> self``, ``suspicion(X)``
(shape (n,), higher = less like the user), ``explain(X)`` (exact, where additive),
``to_dict()`` / ``from_dict(state)`` as plain JSON.

:class:`KeystrokeVerifier` is TrustShield's (see ``weighted``), built from a
:class:`KeystrokePrior` learned on a background population (see ``prior`` and
``population``); :data:`BASELINES` holds the eight classic detectors of Killourhy & Maxion
(DSN 2009) by their name in that paper.
"""

from typing import Any

from trustshield.detectors.keystroke.base import KeystrokeProfile
from trustshield.detectors.keystroke.covariance import (
    MahalanobisVerifier,
    NearestNeighbourMahalanobisVerifier,
)
from trustshield.detectors.keystroke.distance import (
    EuclideanVerifier,
    ManhattanVerifier,
    OutlierCountVerifier,
    ScaledManhattanVerifier,
)
from trustshield.detectors.keystroke.learned import KMeansVerifier, OneClassSVMVerifier
from trustshield.detectors.keystroke.population import PopulationProfile, learn_population
from trustshield.detectors.keystroke.prior import KeystrokePrior, learn_prior
from trustshield.detectors.keystroke.weighted import KeystrokeVerifier, learn_feature_weights
from trustshield.detectors.registry import detector_from_dict
from trustshield.errors import ModelIntegrityError

__all__ = [
    "BASELINES",
    "EuclideanVerifier",
    "KMeansVerifier",
    "KeystrokePrior",
    "KeystrokeProfile",
    "KeystrokeVerifier",
    "MahalanobisVerifier",
    "ManhattanVerifier",
    "NearestNeighbourMahalanobisVerifier",
    "OneClassSVMVerifier",
    "OutlierCountVerifier",
    "PopulationProfile",
    "ScaledManhattanVerifier",
    "learn_feature_weights",
    "learn_population",
    "learn_prior",
    "verifier_from_dict",
]

#: the classic detectors, by the name Killourhy & Maxion give them
BASELINES: dict[str, type[KeystrokeProfile]] = {
    "Euclidean": EuclideanVerifier,
    "Manhattan": ManhattanVerifier,
    "Manhattan (scaled)": ScaledManhattanVerifier,
    "Mahalanobis": MahalanobisVerifier,
    "Nearest neighbour (Mahalanobis)": NearestNeighbourMahalanobisVerifier,
    "Outlier count (z-score)": OutlierCountVerifier,
    "SVM (one-class)": OneClassSVMVerifier,
    "k-means": KMeansVerifier,
}


def verifier_from_dict(state: dict[str, Any]) -> KeystrokeProfile:
    """Rebuild a keystroke verifier from its ``to_dict()`` state through the detector
    registry; ModelIntegrityError when the state is of another kind."""
    verifier = detector_from_dict(state)
    if not isinstance(verifier, KeystrokeProfile):
        raise ModelIntegrityError(
            f"state of kind {state.get('kind')!r} is not a keystroke verifier"
        )
    return verifier
