"""TrustShield's keystroke verifier: a robust, clipped, weighted profile distance.

For one user, every feature j goes through four steps:

1. (``log=True``) log scale for features whose enrolment values are all positive
   (latencies, pressure, area): typing times are skewed with long pauses, and a 40 ms
   change means more on a 90 ms hold than on a 900 ms pause;
2. the user's centre c_j is the median of the enrolment typings and the spread s_j the mean
   absolute deviation from that median (not the MAD: pressure and area are recorded in
   coarse steps, so half of 25 typings often share one value and the MAD collapses to 0);
   s_j is at least ``min_scale`` (in log units for logged features, else relative to |c_j|);
3. the departure d_j = min(|x_j - c_j| / s_j, clip) (``clip=None``: no cap): one wild
   latency (a 30 s pause) cannot outvote seventy features that match;
4. suspicion = sum_j w_j d_j, with weights w_j >= 0 learned from a background population of
   OTHER users by :func:`learn_feature_weights` (all 1 when none are given).

The defaults (log on, clip 5, floor 0.01) are what ``KeystrokeVerifier()`` uses when nothing
else is known. The benchmark does not rely on them: it chooses ``log``, ``clip`` and
``min_scale`` from a small grid by running its protocol inside the background population
alone (:class:`trustshield.assess.keystroke.SelectedFactory`), so no tested subject takes
part in the choice.

Suspicion is a sum over features, so ``explain`` is exact: feature j contributes
w_j (d_j - t_j), t_j its mean departure over the user's own enrolment typings, on top of
the base sum_j w_j t_j. The profile value each typing is compared with (``reference``) is the
user's median typing in raw units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from trustshield.detectors.keystroke.base import KeystrokeProfile, typings_matrix
from trustshield.errors import DataError

MISSING_WEIGHTS = "weights give no value for feature(s) {missing}; learn them on the same columns"
TOO_FEW_SUBJECTS = ("learning feature weights needs typings of at least 2 background subjects "
                    "with more than {n_enrol} typings each; got {got}")


class KeystrokeVerifier(KeystrokeProfile):
    """Log-space median profile, clipped scaled departures, background-learned weights."""

    kind = "keystroke"
    _learned = ("logged_", "low_", "centre_", "spread_", "weight_")

    def __init__(self, *, weights: Mapping[str, float] | None = None, log: bool = True,
                 clip: float | None = 5.0, min_scale: float = 0.01):
        self.weights = None if weights is None else dict(weights)
        self.log = log
        self.clip = clip
        self.min_scale = min_scale

    def _learn(self, matrix: np.ndarray) -> None:
        self.logged_ = ((matrix > 0).all(axis=0) & self.log).astype(np.float64)
        self.low_ = np.where(self.logged_ > 0, matrix.min(axis=0) / 2.0, 0.0)
        space = self._space(matrix)
        self.centre_ = np.median(space, axis=0)
        spread = np.abs(space - self.centre_).mean(axis=0)
        floor = np.where(self.logged_ > 0, self.min_scale,
                         self.min_scale * np.maximum(np.abs(self.centre_), 1e-9))
        self.spread_ = np.maximum(spread, floor)
        self.weight_ = self._weight_vector()

    def _weight_vector(self) -> np.ndarray:
        if self.weights is None:
            return np.ones(len(self.feature_names_))
        missing = [n for n in self.feature_names_ if n not in self.weights]
        if missing:
            raise DataError(MISSING_WEIGHTS.format(missing=missing[:10]))
        return np.array([float(self.weights[n]) for n in self.feature_names_])

    def _space(self, matrix: np.ndarray) -> np.ndarray:
        """Log of the positive features (values below half the enrolment minimum are
        raised to it, so a zero or negative latency still scores as a large departure)."""
        logged = self.logged_ > 0
        out = matrix.astype(np.float64, copy=True)
        out[:, logged] = np.log(np.maximum(out[:, logged], self.low_[logged]))
        return out

    def departures(self, matrix: np.ndarray) -> np.ndarray:
        """Unweighted clipped departures d (n, d) of raw typings from the profile."""
        scaled = np.abs(self._space(matrix) - self.centre_) / self.spread_
        return scaled if self.clip is None else np.minimum(scaled, self.clip)

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return self.departures(matrix) * self.weight_

    def _reference(self, matrix: np.ndarray) -> np.ndarray:
        usual = np.where(self.logged_ > 0, np.exp(self.centre_), self.centre_)
        return np.broadcast_to(usual, matrix.shape).copy()


def learn_feature_weights(typings: pd.DataFrame, subjects: Sequence, *, n_enrol: int = 25,
                          n_impostor: int = 5, **verifier_params) -> dict[str, float]:
    """Per-feature weights from a background population (never the users tested against).

    Inside the background, each subject in turn is enrolled on its first ``n_enrol``
    typings; its remaining typings give genuine departures d_j and the first ``n_impostor``
    typings of every other background subject give impostor departures. The weight of
    feature j is the diagonal linear-discriminant direction, clipped at zero:
    w_j = max(0, mean_imp - mean_gen) / ((var_imp + var_gen) / 2), the best linear
    separation of the two groups if features were independent and normal. Weights are
    scaled to average 1 (all 1 if no feature separates). Returns {feature name: weight}.
    """
    matrix = typings_matrix(typings, "learn_feature_weights", "fit")
    subjects = np.asarray(subjects)
    if len(subjects) != len(matrix):
        raise DataError(f"subjects has {len(subjects)} entries for {len(matrix)} typings")
    order = list(dict.fromkeys(subjects.tolist()))
    rows = {s: np.flatnonzero(subjects == s) for s in order}
    usable = [s for s in order if len(rows[s]) > n_enrol]
    if len(usable) < 2:
        raise DataError(TOO_FEW_SUBJECTS.format(n_enrol=n_enrol, got=len(usable)))
    genuine, impostor = [], []
    for subject in usable:
        mine = rows[subject]
        profile = KeystrokeVerifier(**verifier_params).fit(typings.iloc[mine[:n_enrol]])
        others = np.concatenate([rows[o][:n_impostor] for o in usable if o != subject])
        genuine.append(profile.departures(matrix[mine[n_enrol:]]))
        impostor.append(profile.departures(matrix[others]))
    weights = _discriminant(np.vstack(genuine), np.vstack(impostor))
    return {str(name): float(w) for name, w in zip(typings.columns, weights)}


def _discriminant(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    gap = impostor.mean(axis=0) - genuine.mean(axis=0)
    pooled = (impostor.var(axis=0) + genuine.var(axis=0)) / 2.0
    weights = np.maximum(gap, 0.0) / np.maximum(pooled, 1e-12)
    total = weights.sum()
    return np.ones_like(weights) if total <= 0 else weights * len(weights) / total
