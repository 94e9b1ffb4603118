"""Classic distance verifiers of Killourhy & Maxion (DSN 2009), as baselines.

Each keeps the mean enrolment typing of one user and scores a typing by how far it lies
from it, on the raw features:

- Euclidean: squared Euclidean distance, sum of (x_j - mean_j)^2;
- Manhattan: city-block distance, sum of |x_j - mean_j|;
- scaled Manhattan: sum of |x_j - mean_j| / a_j, a_j the mean absolute deviation of
  feature j from its mean over the enrolment typings;
- outlier count (z-score): how many features have |x_j - mean_j| / sd_j > 1.96, sd_j the
  enrolment standard deviation (n - 1 denominator).

All four are sums over features, so their explanations are exact.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from trustshield.detectors.keystroke.base import KeystrokeProfile, floor_scale
from trustshield.detectors.registry import register

#: |z| above this counts as an outlying feature (two-sided 5 % under a normal model)
Z_LIMIT = 1.96


class _MeanProfile(KeystrokeProfile):
    separable = True  # every term grows with |x_j - mean_j|: it peaks at a range's ends
    _learned: ClassVar[tuple[str, ...]] = ("mean_",)

    def __init__(self) -> None:
        pass

    def _learn(self, matrix: np.ndarray) -> None:
        self.mean_ = matrix.mean(axis=0)

    def _reference(self, matrix: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.mean_, matrix.shape).copy()


@register("keystroke-euclidean")
class EuclideanVerifier(_MeanProfile):
    """Squared Euclidean distance to the mean enrolment typing."""

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray((matrix - self.mean_) ** 2)


@register("keystroke-manhattan")
class ManhattanVerifier(_MeanProfile):
    """City-block distance to the mean enrolment typing."""

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(matrix - self.mean_))


@register("keystroke-scaled-manhattan")
class ScaledManhattanVerifier(_MeanProfile):
    """City-block distance with each feature divided by its mean absolute deviation."""

    _learned = ("mean_", "spread_")

    def _learn(self, matrix: np.ndarray) -> None:
        self.mean_ = matrix.mean(axis=0)
        self.spread_ = floor_scale(np.abs(matrix - self.mean_).mean(axis=0), self.mean_)

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(np.abs(matrix - self.mean_) / self.spread_)


@register("keystroke-outlier-count")
class OutlierCountVerifier(_MeanProfile):
    """Number of features whose z-score against the enrolment typings exceeds 1.96."""

    _learned = ("mean_", "sd_")

    def _learn(self, matrix: np.ndarray) -> None:
        self.mean_ = matrix.mean(axis=0)
        self.sd_ = floor_scale(matrix.std(axis=0, ddof=1), self.mean_)

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray((np.abs(matrix - self.mean_) / self.sd_ > Z_LIMIT).astype(np.float64))
