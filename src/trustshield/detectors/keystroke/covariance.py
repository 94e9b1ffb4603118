"""Covariance verifiers of Killourhy & Maxion (DSN 2009), as baselines.

- Mahalanobis: (x - mean)' P (x - mean), P the inverse of the enrolment covariance;
- nearest-neighbour Mahalanobis: the same quadratic form to the nearest enrolment typing.

With 25 enrolment typings of 71 features (and flights that equal press-to-press latency
minus hold, exactly) the covariance is singular, so P is its Moore-Penrose pseudo-inverse:
the form measures departures inside the span the enrolment typings occupied and ignores
directions they never varied in.

A quadratic form is not a sum of one term per feature, but it splits exactly as
sum_j D_j (P D)_j with D = x - centre; that split (cross terms shared through P D) is what
``explain`` returns. It always sums to the score; a single term can be negative.
"""

from __future__ import annotations

import numpy as np

from trustshield.detectors.keystroke.base import KeystrokeProfile
from trustshield.detectors.registry import register

#: eigenvalues of P below this share of the largest are treated as zero when whitening
RANK_TOLERANCE = 1e-10


def _precision(matrix: np.ndarray) -> np.ndarray:
    """Pseudo-inverse of the enrolment covariance (n - 1 denominator), made symmetric."""
    precision = np.linalg.pinv(np.cov(matrix, rowvar=False), hermitian=True)
    return (precision + precision.T) / 2.0


def _split(deltas: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """Per-feature terms D_j (P D)_j of the quadratic form D' P D, shape like ``deltas``."""
    return np.asarray(deltas * (deltas @ precision))


@register("keystroke-mahalanobis")
class MahalanobisVerifier(KeystrokeProfile):
    """Mahalanobis distance (squared) to the mean enrolment typing."""

    _learned = ("mean_", "precision_")

    def __init__(self) -> None:
        pass

    def _learn(self, matrix: np.ndarray) -> None:
        self.mean_ = matrix.mean(axis=0)
        self.precision_ = _precision(matrix)

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return _split(matrix - self.mean_, self.precision_)

    def _reference(self, matrix: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.mean_, matrix.shape).copy()


@register("keystroke-nn-mahalanobis")
class NearestNeighbourMahalanobisVerifier(KeystrokeProfile):
    """Mahalanobis distance (squared) to the nearest enrolment typing."""

    _learned = ("enrolment_", "precision_")

    def __init__(self) -> None:
        pass

    def _learn(self, matrix: np.ndarray) -> None:
        self.enrolment_ = matrix.copy()
        self.precision_ = _precision(matrix)
        self._restore()

    def _restore(self) -> None:
        """Whitening W with W W' = P, so the form is a squared Euclidean distance after W."""
        values, vectors = np.linalg.eigh(self.precision_)
        keep = values > RANK_TOLERANCE * max(values.max(), 0.0)
        self._whiten = vectors[:, keep] * np.sqrt(values[keep])
        self._enrolled = self.enrolment_ @ self._whiten

    def _nearest(self, matrix: np.ndarray) -> np.ndarray:
        """Index of the nearest enrolment typing of each row, shape (n,)."""
        rows = matrix @ self._whiten
        squared = (
            (rows**2).sum(axis=1)[:, None]
            - 2.0 * rows @ self._enrolled.T
            + (self._enrolled**2).sum(axis=1)[None, :]
        )
        return np.asarray(squared.argmin(axis=1))

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return _split(matrix - self.enrolment_[self._nearest(matrix)], self.precision_)

    def _reference(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.enrolment_[self._nearest(matrix)])
