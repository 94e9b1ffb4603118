"""TrustShield's keystroke verifier: a robust, clipped, weighted profile distance, set
against the population.

For one user, every feature j goes through these steps:

1. (``log=True``) log scale for features whose values are all positive (latencies,
   pressure, area): typing times are skewed with long pauses, and a 40 ms change means more
   on a 90 ms hold than on a 900 ms pause. With a ``population``
   (:class:`~trustshield.detectors.keystroke.population.PopulationProfile`) the scale and
   its floor are the population's, so every user is mapped through the same function;
   without one, each user's own (log where their enrolment values are all positive);
2. the user's centre c_j is the median of the enrolment typings and the spread s_j the mean
   absolute deviation from that median (not the MAD: pressure and area are recorded in
   coarse steps, so half of a few typings often share one value and the MAD collapses);
   s_j is at least ``min_scale`` (log units for logged features, else relative to |c_j|).
   With ``drift=True`` the centre moves by the population's drift: where the user is
   expected to type once the password has settled into their fingers;
3. the departure u_j = |x_j - c_j| / s_j (in the log space above);
4. (``contrast`` = beta > 0) the population contrast: u_j - beta_j * min(e_j, clip), with
   e_j = |x_j - m_j| / S_j the departure from the population's centre m_j (spread S_j).
   With Laplace models of the user and of the population this is a tempered
   log-likelihood ratio "population over user": a typing close to the user AND far from
   how everybody types is the user's strongest evidence. beta_j = min(beta, S_j / (2 s_j))
   keeps the population part's slope at most half the user part's, so a feature's term
   only grows as the typing moves away from the user's centre, whichever way: typing
   unlike everyone (a pause of hours) can never lower a score, only typing like the user;
5. the term t_j = min(u_j - beta_j min(e_j, clip), clip) (``clip=None``: no cap): one wild
   latency (a 30 s pause) cannot outvote seventy features that match;
6. suspicion = sum_j w_j t_j, weights w_j >= 0 learned from a background population by
   :func:`learn_feature_weights` (all 1 when none are given). Suspicion can be negative (a
   typing more like the user than like the population); higher = less like the user.

``KeystrokeVerifier()`` (no population, no weights, contrast 0) is the verifier with fixed
defaults (log on, clip 5, floor 0.01). What ``trustshield enrol`` and the benchmark fit is
a :class:`~trustshield.detectors.keystroke.prior.KeystrokePrior`'s verifier: settings,
population and weights learned on a background population only.

Suspicion is a sum over features, so ``explain`` is exact: feature j contributes
w_j (t_j - typical_j), t_j its term and typical_j the mean term over the user's own
enrolment typings, on top of the base sum_j w_j typical_j. The profile value each typing
is compared with (``reference``) is exp(c_j) (c_j for unlogged features), raw units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from trustshield.detectors.keystroke.base import KeystrokeProfile, typings_matrix
from trustshield.detectors.keystroke.population import (
    PopulationProfile,
    background_terms,
    scale_floor,
    to_space,
)
from trustshield.detectors.registry import register
from trustshield.errors import DataError

MISSING_WEIGHTS = "weights give no value for feature(s) {missing}; learn them on the same columns"
BAD_CONTRAST = (
    "contrast must be a number in [0, 1] and needs a population profile and a "
    "clip (an unclipped population term would reward typing unlike everyone); "
    "got contrast {contrast!r}, clip {clip!r}, population {population}"
)
DRIFT_NEEDS_POPULATION = "drift=True moves the centre by the population's drift: give population="
#: the population part's slope is at most this share of the user part's (step 4)
SLOPE_SHARE = 0.5


@register("keystroke")
class KeystrokeVerifier(KeystrokeProfile):
    """Log-space median profile, clipped scaled departures, population contrast and drift,
    background-learned weights. ``weights`` is kept as given (a mapping or None)."""

    separable = True  # each term grows with the distance from the user's centre: it peaks
    # at a range's ends (step 4 keeps that true with the population contrast)
    _learned = ("logged_", "low_", "centre_", "spread_", "weight_", "pop_centre_", "pop_spread_")

    def __init__(
        self,
        *,
        weights: Mapping[str, float] | None = None,
        population: PopulationProfile | Mapping[str, Any] | None = None,
        log: bool = True,
        clip: float | None = 5.0,
        min_scale: float = 0.01,
        contrast: float = 0.0,
        drift: bool = False,
    ):
        self.weights = weights
        self.population = None if population is None else PopulationProfile.from_dict(population)
        self.log = log
        self.clip = clip
        self.min_scale = min_scale
        self.contrast = contrast
        self.drift = drift
        if not (isinstance(contrast, (int, float)) and 0 <= contrast <= 1) or (
            contrast > 0 and (self.population is None or clip is None)
        ):
            raise DataError(
                BAD_CONTRAST.format(
                    contrast=contrast, clip=clip, population="given" if population else "none"
                )
            )
        if drift and self.population is None:
            raise DataError(DRIFT_NEEDS_POPULATION)

    def settled(self) -> KeystrokeVerifier:
        """A fresh verifier with these settings for a window of later typings (an adaptive
        template's): the population's drift is no longer added, the window has moved with
        the user already."""
        params = {**self.get_params(deep=False), "drift": False}
        return type(self)(**params)

    def _params_state(self) -> dict[str, Any]:
        params = super()._params_state()
        params["population"] = None if self.population is None else self.population.to_dict()
        return params

    def _learn(self, matrix: np.ndarray) -> None:
        d = matrix.shape[1]
        if self.population is None:
            logged = np.asarray((matrix > 0).all(axis=0) & self.log)
            self.low_ = np.where(logged, matrix.min(axis=0) / 2.0, 0.0)
            self.pop_centre_, self.pop_spread_, shift = np.zeros(d), np.ones(d), np.zeros(d)
        else:
            population = self.population.aligned(self.feature_names_)
            logged = population["logged"] > 0
            self.low_ = population["floor"]
            self.pop_centre_, self.pop_spread_ = population["centre"], population["spread"]
            shift = population["shift"] if self.drift else np.zeros(d)
        self.logged_ = logged.astype(np.float64)
        space = self._space(matrix)
        median = np.median(space, axis=0)
        spread = np.abs(space - median).mean(axis=0)
        self.spread_ = np.maximum(spread, scale_floor(logged, median, self.min_scale))
        self.centre_ = median + shift
        self.weight_ = self._weight_vector()

    def _restore(self) -> None:
        """Templates enrolled before the population contrast carry no population arrays."""
        d = len(self.feature_names_)
        if not hasattr(self, "pop_centre_"):
            self.pop_centre_, self.pop_spread_ = np.zeros(d), np.ones(d)

    def _weight_vector(self) -> np.ndarray:
        if self.weights is None:
            return np.ones(len(self.feature_names_))
        missing = [n for n in self.feature_names_ if n not in self.weights]
        if missing:
            raise DataError(MISSING_WEIGHTS.format(missing=missing[:10]))
        return np.array([float(self.weights[n]) for n in self.feature_names_])

    def _space(self, matrix: np.ndarray) -> np.ndarray:
        """The verifier's space: log of max(value, floor) for logged features (a zero or
        negative latency still scores as a large departure)."""
        return to_space(matrix, np.asarray(self.logged_ > 0), self.low_)

    def _capped(self, scaled: np.ndarray) -> np.ndarray:
        return scaled if self.clip is None else np.minimum(scaled, self.clip)

    def contrast_shares(self) -> np.ndarray:
        """beta_j per feature (d,): the contrast, at most half of S_j / s_j (see step 4)."""
        return np.asarray(np.minimum(self.contrast, SLOPE_SHARE * self.pop_spread_ / self.spread_))

    def unweighted_terms(self, matrix: np.ndarray) -> np.ndarray:
        """Per-feature terms t before weighting (n, d): the departure from the user minus
        the population contrast, capped at ``clip`` (steps 3-5)."""
        space = self._space(matrix)
        terms = np.abs(space - self.centre_) / self.spread_
        if self.contrast:
            crowd = self._capped(np.abs(space - self.pop_centre_) / self.pop_spread_)
            terms = terms - self.contrast_shares() * crowd
        return self._capped(terms)

    def _terms(self, matrix: np.ndarray) -> np.ndarray:
        return np.asarray(self.unweighted_terms(matrix) * self.weight_)

    def _reference(self, matrix: np.ndarray) -> np.ndarray:
        usual = np.where(self.logged_ > 0, np.exp(self.centre_), self.centre_)
        return np.broadcast_to(usual, matrix.shape).copy()


def learn_feature_weights(
    typings: pd.DataFrame,
    subjects: Sequence[Any] | np.ndarray,
    *,
    n_enrol: int = 25,
    n_impostor: int = 5,
    n_genuine: int | None = None,
    **verifier_params: Any,
) -> dict[str, float]:
    """Per-feature weights from a background population (never the users tested against).

    Inside the background, each subject in turn is enrolled on its first ``n_enrol``
    typings (a verifier with ``verifier_params``, population contrast and drift included);
    its next ``n_genuine`` typings (None: all later ones) give genuine terms t_j and the
    first ``n_impostor`` typings of every other background subject give impostor terms.
    The weight of feature j is the diagonal linear-discriminant direction, clipped at
    zero: w_j = max(0, mean_imp - mean_gen) / ((var_imp + var_gen) / 2), the best linear
    separation of the two groups if features were independent and normal. Weights are
    scaled to average 1 (all 1 if no feature separates). Returns {feature name: weight}.
    """
    typings_matrix(typings, "learn_feature_weights", "fit")
    if len(subjects) != len(typings):
        raise DataError(f"subjects has {len(subjects)} entries for {len(typings)} typings")
    genuine, impostor = background_terms(
        typings,
        subjects,
        lambda: KeystrokeVerifier(**verifier_params),
        n_enrol=n_enrol,
        n_impostor=n_impostor,
        n_genuine=n_genuine,
    )
    weights = _discriminant(genuine, impostor)
    return {str(name): float(w) for name, w in zip(typings.columns, weights)}


def _discriminant(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    gap = impostor.mean(axis=0) - genuine.mean(axis=0)
    pooled = (impostor.var(axis=0) + genuine.var(axis=0)) / 2.0
    weights = np.maximum(gap, 0.0) / np.maximum(pooled, 1e-12)
    total = weights.sum()
    return np.ones_like(weights) if total <= 0 else weights * len(weights) / total
