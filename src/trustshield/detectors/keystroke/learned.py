"""Model-based verifiers of Killourhy & Maxion (DSN 2009), as baselines.

- one-class SVM: features standardised by the enrolment mean and standard deviation, an
  RBF-kernel one-class SVM with nu = 0.5 (scikit-learn, gamma "scale", i.e. 1 / (d * variance
  of the standardised enrolment matrix)); suspicion is minus its decision value. The fitted
  machine is kept as plain arrays (support vectors, dual coefficients, intercept, gamma)
  and scored with numpy, so a JSON template scores without scikit-learn objects;
- k-means: k = 3 clusters of the raw enrolment typings (scikit-learn, k-means++, fixed
  seed); suspicion is the squared Euclidean distance to the nearest centroid (the paper
  uses the distance itself: same order, so the same error rates), which is a sum over
  features and so explains exactly.
"""

from __future__ import annotations

import numpy as np

from trustshield.detectors.keystroke.base import KeystrokeProfile, floor_scale
from trustshield.detectors.registry import register


@register("keystroke-one-class-svm")
class OneClassSVMVerifier(KeystrokeProfile):
    """RBF one-class SVM on standardised features; not additive, so no explanation."""

    additive = False
    _learned = ("mean_", "sd_", "support_", "dual_", "intercept_", "gamma_")

    def __init__(self, *, nu: float = 0.5):
        self.nu = nu

    def _learn(self, matrix: np.ndarray) -> None:
        from sklearn.svm import OneClassSVM  # training only

        self.mean_ = matrix.mean(axis=0)
        self.sd_ = floor_scale(matrix.std(axis=0, ddof=1), self.mean_)
        machine = OneClassSVM(kernel="rbf", nu=self.nu, gamma="scale")
        machine.fit((matrix - self.mean_) / self.sd_)
        self.support_ = np.asarray(machine.support_vectors_, dtype=np.float64)
        self.dual_ = np.asarray(machine.dual_coef_, dtype=np.float64).ravel()
        self.intercept_ = np.asarray(machine.intercept_, dtype=np.float64).ravel()
        self.gamma_ = np.array([float(machine._gamma)])

    def _score(self, matrix: np.ndarray) -> np.ndarray:
        standard = (matrix - self.mean_) / self.sd_
        squared = (
            (standard**2).sum(axis=1)[:, None]
            - 2.0 * standard @ self.support_.T
            + (self.support_**2).sum(axis=1)[None, :]
        )
        kernel = np.exp(-self.gamma_[0] * np.maximum(squared, 0.0))
        return np.asarray(-(kernel @ self.dual_ + self.intercept_[0]))


@register("keystroke-k-means")
class KMeansVerifier(KeystrokeProfile):
    """Squared distance to the nearest of k centroids of the enrolment typings."""

    _learned = ("centroids_",)

    def __init__(self, *, n_clusters: int = 3, n_init: int = 10, seed: int = 0):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.seed = seed

    @property
    def min_enrolment(self) -> int:  # k-means needs at least k typings
        return self.n_clusters

    def _learn(self, matrix: np.ndarray) -> None:
        from sklearn.cluster import KMeans  # training only

        model = KMeans(n_clusters=self.n_clusters, n_init=self.n_init, random_state=self.seed)
        self.centroids_ = np.asarray(model.fit(matrix).cluster_centers_, dtype=np.float64)

    def _nearest(self, matrix: np.ndarray) -> np.ndarray:
        squared = ((matrix[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(squared.argmin(axis=1))

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray((matrix - self.centroids_[self._nearest(matrix)]) ** 2)

    def _reference(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.centroids_[self._nearest(matrix)])
