"""Hybrid detector: the most alarming of a supervised and a novelty component.

Each component's raw suspicion s_i is put on a common scale with an affine map
z_i = (s_i - center_i) / (point_i - center_i): center_i is the median out-of-fold score of
normal training records and point_i the component's operating point, so z_i = 1 exactly
at the operating point. The points are a hyperparameter, ``operating_points`` (raw score
per part): model selection on training data (``decide.selection``) chooses them and the
training pipeline applies them with ``set_params``, as a grid search sets any
hyperparameter; left at None, fit puts each at the 0.99 quantile of its normal out-of-fold
scores. They define the common scale, not a decision: the alert and review thresholds on
suspicion live in the policy. Suspicion is
max_i z_i: a record passes 1 when either component passes its operating point. Because
each map is affine, the chosen component's exact attributions, divided by its spread
(and the base shifted), explain the hybrid exactly.

The components are its parts (:meth:`HybridDetector.parts`): "supervised" and "novelty",
each itself a registered detector; ``get_params(deep=True)`` reaches them as
``supervised__<name>`` and ``novelty__<name>``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.inputs import check_frame, check_labels, feature_matrix
from trustshield.detectors.parallel import one_thread, run_jobs, workers_of
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import Attributions, Detector, attack_mask, check_fitted
from trustshield.detectors.registry import detector_from_dict, register
from trustshield.errors import NOT_FITTED, DataError, NotFittedError

DEFAULT_QUANTILE = 0.99
#: one fold's (held-out row indices, supervised scores, novelty scores), each (m,)
_FoldScores = tuple[np.ndarray, np.ndarray, np.ndarray]
TOO_FEW_PER_CLASS = (
    "HybridDetector.fit() needs at least n_folds = {folds} normal rows and "
    "{folds} attack rows for its out-of-fold scores; got {normal} normal and "
    "{attack} attack"
)


@register("hybrid")
class HybridDetector(Parameters):
    """max(z_supervised, z_novelty); see the module docstring for the scale."""

    kind: ClassVar[str]  # set by @register

    def __init__(
        self,
        supervised: Any,
        novelty: Detector,
        *,
        n_folds: int = 5,
        seed: int = 0,
        operating_points: tuple[float, ...] | None = None,
    ):
        # supervised: a detector whose fit also takes the attack categories (gbdt)
        self.supervised = supervised
        self.novelty = novelty
        self.n_folds = n_folds
        self.seed = seed
        self.operating_points = operating_points

    def parts(self) -> dict[str, Detector]:
        """The component detectors by role, in the column order of component scores."""
        return {"supervised": self.supervised, "novelty": self.novelty}

    @property
    def components(self) -> tuple[Any, ...]:
        return tuple(self.parts().values())

    def fit(
        self, X: pd.DataFrame, y: npt.ArrayLike, categories: npt.ArrayLike | None = None
    ) -> HybridDetector:
        """Fit both components on X (n, d), y (n,); learn centers from out-of-fold scores.

        Without ``operating_points``, each part's point is the 0.99 quantile of its
        normal out-of-fold scores.
        """
        name = type(self).__name__
        check_frame(X, name, "fit")
        categorical = set.intersection(
            *(set(getattr(part, "categorical", ())) for part in self.components)
        )
        feature_matrix(X, name, "fit", categorical)  # before folds: errors name X's rows
        attack = attack_mask(check_labels(y, len(X), name, "fit"))
        if categories is not None:
            check_labels(categories, len(X), name, "fit", what="categories")
        if min(attack.sum(), (~attack).sum()) < self.n_folds:
            raise DataError(
                TOO_FEW_PER_CLASS.format(
                    folds=self.n_folds, normal=int((~attack).sum()), attack=int(attack.sum())
                )
            )
        # the final fits and the out-of-fold folds are independent: all run side by side,
        # the longest (the final supervised fit, with its category head) first
        final: list[Callable[[], Any]] = [
            partial(self.supervised.fit, X, y, categories),
            partial(self.novelty.fit, X, y),
        ]
        results = run_jobs([*final, *self._fold_jobs(X, y)], workers_of(self))
        self.normal_oof_ = _gathered(len(X), results[len(final) :])[~attack]
        self.feature_names_ = tuple(X.columns)
        self.center_ = np.median(self.normal_oof_, axis=0)
        self.default_points_ = np.quantile(self.normal_oof_, DEFAULT_QUANTILE, axis=0)
        return self

    def out_of_fold(self, X: pd.DataFrame, y: npt.ArrayLike) -> np.ndarray:
        """Component scores (n, 2) for every training row from models that did not see it;
        the novelty component is fitted on the normal rows of the other folds only. The
        folds are fitted side by side, each on one thread (``detectors.parallel``)."""
        return _gathered(len(X), run_jobs(self._fold_jobs(X, y), workers_of(self)))

    def _fold_jobs(self, X: pd.DataFrame, y: npt.ArrayLike) -> list[Callable[[], _FoldScores]]:
        """One job per stratified fold: fit both parts (one thread each, no category head)
        on the other folds; return (held-out row indices, supervised, novelty scores)."""
        from sklearn.model_selection import StratifiedKFold  # training only

        labels = np.asarray(y)
        folds = StratifiedKFold(self.n_folds, shuffle=True, random_state=self.seed)

        def fold_scores(train: np.ndarray, held: np.ndarray) -> _FoldScores:
            sup = one_thread(self.supervised).fit(X.iloc[train], labels[train])
            nov = one_thread(self.novelty).fit(X.iloc[train], labels[train])
            return held, sup.suspicion(X.iloc[held]), nov.suspicion(X.iloc[held])

        return [partial(fold_scores, train, held) for train, held in folds.split(X, attack_mask(y))]

    @property
    def points_(self) -> np.ndarray:
        """Raw-score operating point per part, shape (2,): ``operating_points`` when set
        (a change takes effect without refitting), else the fitted default."""
        check_fitted(self, "suspicion")
        if self.operating_points is None:
            return np.asarray(self.default_points_)
        points = np.asarray(self.operating_points, dtype=float)
        if points.shape != (2,) or not np.isfinite(points).all():
            raise DataError(
                "HybridDetector.operating_points must be 2 finite raw scores "
                f"(supervised, novelty); got {self.operating_points!r}"
            )
        return points

    @property
    def spread_(self) -> np.ndarray:
        return self._spread(self.points_)

    def _spread(self, points: npt.ArrayLike) -> np.ndarray:
        return np.asarray(np.maximum(np.asarray(points, dtype=float) - self.center_, 1e-9))

    def scaled(self, raw: np.ndarray, points: npt.ArrayLike | None = None) -> np.ndarray:
        """Component scores (n, 2) → common scale (n, 2); 1 = operating point: the fitted
        ones, or ``points`` (2,) when given (the detector is left unchanged)."""
        spread = self.spread_ if points is None else self._spread(points)
        return np.asarray((raw - self.center_) / spread)

    def component_scores(self, X: pd.DataFrame) -> np.ndarray:
        """Raw suspicion of each component, shape (n, 2)."""
        check_fitted(self, "suspicion")
        return np.column_stack([c.suspicion(X) for c in self.components])

    def part_scores(self, X: pd.DataFrame) -> np.ndarray:
        """Component scores on the common scale, shape (n, 2); 1 = operating point."""
        return self.scaled(self.component_scores(X))

    def normal_out_of_fold(self) -> np.ndarray:
        """Raw out-of-fold component scores (m, 2) of the normal training rows (after fit)."""
        if not hasattr(self, "normal_oof_"):
            raise NotFittedError(
                NOT_FITTED.format(name=type(self).__name__, method="normal_out_of_fold")
            )
        return np.asarray(self.normal_oof_)

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """max of scaled component scores; shape (n,)."""
        return np.asarray(self.part_scores(X).max(axis=1))

    def explain(self, X: pd.DataFrame, scaled: np.ndarray | None = None) -> Attributions:
        """Attributions of the component that sets each row's suspicion, rescaled.

        ``scaled`` (n, 2), when the caller already has ``scaled(component_scores(X))``,
        saves scoring the rows again.
        """
        check_fitted(self, "explain")
        check_frame(X, type(self).__name__, "explain")
        if scaled is None:
            scaled = self.part_scores(X)
        winner = scaled.argmax(axis=1)
        values = np.zeros((len(X), len(self.feature_names_)))
        base = np.zeros(len(X))
        reference = np.full(values.shape, np.nan)
        for i, component in enumerate(self.components):
            rows = np.flatnonzero(winner == i)
            if len(rows) == 0:
                continue
            part = component.explain(X.iloc[rows])
            values[rows] = part.values / self.spread_[i]
            base[rows] = (part.base - self.center_[i]) / self.spread_[i]
            if part.reference is not None:
                reference[rows] = part.reference
        return Attributions(self.feature_names_, values, base, reference)

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        return {
            "kind": self.kind,
            "n_folds": self.n_folds,
            "seed": self.seed,
            "center": self.center_.tolist(),
            "points": self.points_.tolist(),
            "feature_names": list(self.feature_names_),
            "supervised": self.supervised.to_dict(),
            "novelty": self.novelty.to_dict(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> HybridDetector:
        hybrid = cls(
            detector_from_dict(state["supervised"]),
            detector_from_dict(state["novelty"]),
            n_folds=state["n_folds"],
            seed=state["seed"],
            operating_points=tuple(state["points"]),
        )
        hybrid.feature_names_ = tuple(state["feature_names"])
        hybrid.center_ = np.array(state["center"])
        hybrid.default_points_ = hybrid.points_
        return hybrid


def _gathered(n: int, folds: list[_FoldScores]) -> np.ndarray:
    """Component scores (n, 2) assembled from every fold's held-out rows."""
    scores = np.zeros((n, 2))
    for held, supervised, novelty in folds:
        scores[held, 0] = supervised
        scores[held, 1] = novelty
    return scores
