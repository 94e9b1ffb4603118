"""Supervised gradient-boosted detector (LightGBM) with exact native TreeSHAP.

Suspicion is the binary model's raw margin (log-odds of "attack"). A second, small
multiclass model names the attack category of a record; it is used for labelling alerts,
not for scoring. ``monotone`` maps feature names to +1 (suspicion never falls as the
feature grows) or -1 (never rises): a hardening against attackers who can only move a
feature one way. Exact TreeSHAP is LightGBM's own; for larger boosters it is computed once
per tree and route and looked up after that (:class:`Forest`), so explaining every alert
stays cheap for deeper trees too. LightGBM is imported when a model is fitted or loaded, not with this module.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.forest import Forest, cached_forest
from trustshield.detectors.inputs import check_frame, check_labels, check_rows, feature_matrix
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import Attributions, attack_mask, check_columns, check_fitted
from trustshield.detectors.registry import register

#: fewer rows than this are predicted on one thread: for a small batch, OpenMP hand-offs
#: and spin-waiting cost more than the trees (explaining 100 rows: ~8 ms on two threads of
#: a busy 2-core machine, ~3 ms on one). LightGBM predicts each row on its own, so the
#: results do not depend on the thread count.
PARALLEL_ROWS = 2000
#: boosters with at least this many leaves (trees × num_leaves) are explained through the
#: compiled :class:`Forest`; below it LightGBM's TreeSHAP costs about 0.06 ms a row (50
#: trees of 8 leaves) and loading the compiled kernels (about 0.6 s a process) would cost
#: more than it saves in a short run. 100 trees of 31 leaves: 0.7 ms a row directly,
#: 0.07 ms on first sight of a route and 0.006 ms after that through the forest
FOREST_MIN_LEAVES = 1000


class TreeSettings(Protocol):
    """The tree settings a LightGBM-backed detector keeps (its constructor's parameters)."""

    num_leaves: int
    max_depth: int
    learning_rate: float
    min_child_samples: int
    seed: int
    n_threads: int


def booster_params(settings: TreeSettings, **extra: Any) -> dict[str, Any]:
    """LightGBM training parameters from ``settings``: deterministic with ``seed``, quiet,
    on ``n_threads`` threads; ``extra`` (objective, num_class, ...) added as given."""
    return dict(
        num_leaves=settings.num_leaves,
        max_depth=settings.max_depth,
        learning_rate=settings.learning_rate,
        min_child_samples=settings.min_child_samples,
        seed=settings.seed,
        deterministic=True,
        num_threads=settings.n_threads,
        verbose=-1,
        **extra,
    )


@register("gbdt")
class GradientBoostedDetector(Parameters):
    """LightGBM binary attack-vs-normal scorer plus an attack-category head.

    ``monotone`` is kept as given (None or a mapping) so that ``sklearn.base.clone``
    sees its parameters unchanged; None means no constraint.
    """

    kind: ClassVar[str]  # set by @register

    def __init__(
        self,
        *,
        n_estimators: int = 60,
        num_leaves: int = 8,
        max_depth: int = 3,
        learning_rate: float = 0.1,
        min_child_samples: int = 20,
        categorical: tuple[str, ...] = (),
        monotone: dict[str, int] | None = None,
        seed: int = 0,
        n_threads: int = 2,
    ):
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.categorical = tuple(categorical)
        self.monotone = monotone
        self.seed = seed
        self.n_threads = n_threads

    def fit(
        self, X: pd.DataFrame, y: npt.ArrayLike, categories: npt.ArrayLike | None = None
    ) -> GradientBoostedDetector:
        """Fit on X (n, d) with labels y (attack names, category names or 0/1).

        ``categories`` (optional, shape (n,)) names the attack category of each row; when
        given, the category head is trained on the attack rows.
        """
        import lightgbm as lgb  # fitting and loading only: scoring modules stay light

        name = type(self).__name__
        check_rows(check_frame(X, name, "fit"), name, "fit")
        matrix = feature_matrix(X, name, "fit", self.categorical)
        target = attack_mask(check_labels(y, len(X), name, "fit")).astype(int)
        if categories is not None:
            categories = check_labels(categories, len(X), name, "fit", what="categories")
        self.feature_names_ = tuple(X.columns)
        cats = [c for c in self.categorical if c in self.feature_names_]
        data = lgb.Dataset(
            matrix,
            target,
            feature_name=list(self.feature_names_),
            categorical_feature=cats,
            free_raw_data=True,
        )
        extra = {}
        if self.monotone:
            extra["monotone_constraints"] = [
                int(self.monotone.get(f, 0)) for f in self.feature_names_
            ]
        self.booster_ = lgb.train(
            booster_params(self, objective="binary", **extra), data, self.n_estimators
        )
        self.classes_: tuple[str, ...] = ()
        if categories is not None:
            self._fit_categories(matrix, np.asarray(categories)[target == 1], target, cats)
        return self

    def _fit_categories(
        self, matrix: np.ndarray, attack_categories: np.ndarray, target: np.ndarray, cats: list[str]
    ) -> None:
        import lightgbm as lgb

        self.classes_ = tuple(sorted(set(attack_categories)))
        if len(self.classes_) < 2:
            return
        codes = np.searchsorted(self.classes_, attack_categories)
        data = lgb.Dataset(
            matrix[target == 1],
            codes,
            feature_name=list(self.feature_names_),
            categorical_feature=cats,
        )
        self.category_booster_ = lgb.train(
            booster_params(self, objective="multiclass", num_class=len(self.classes_)), data, 40
        )

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """Raw margin, log-odds of attack; shape (n,)."""
        check_fitted(self, "suspicion")
        return np.asarray(
            self.booster_.predict(
                check_columns(self, X), raw_score=True, num_threads=self._threads(X)
            )
        )

    def explain(self, X: pd.DataFrame) -> Attributions:
        """LightGBM's exact TreeSHAP, looked up per tree and route (:class:`Forest`):
        values (n, d) and base (n,) summing to the raw margin."""
        check_fitted(self, "explain")
        matrix = check_columns(self, X, "explain")
        if self.booster_.num_trees() * self.num_leaves < FOREST_MIN_LEAVES:
            contrib = self.booster_.predict(matrix, pred_contrib=True, num_threads=self._threads(X))
        else:
            contrib = self._forest().contributions(matrix)
        contrib = np.asarray(contrib)
        return Attributions(self.feature_names_, contrib[:, :-1], contrib[:, -1].copy())

    def _forest(self) -> Forest:
        """The booster as compiled trees with memoised TreeSHAP, built once per booster."""
        return cached_forest(self, "_forest_cache", self.booster_)

    def categorize(self, X: pd.DataFrame) -> np.ndarray:
        """Most likely attack category per row (str, shape (n,)), whatever the score."""
        check_fitted(self, "categorize")
        if len(X) == 0:
            return np.empty(0, dtype=object)
        if len(self.classes_) == 0:
            return np.full(len(X), "unknown", dtype=object)
        if len(self.classes_) == 1:
            return np.full(len(X), self.classes_[0], dtype=object)
        proba = np.asarray(
            self.category_booster_.predict(
                check_columns(self, X, "categorize"), num_threads=self._threads(X)
            )
        )
        return np.asarray(np.asarray(self.classes_, dtype=object)[proba.argmax(axis=1)])

    def _threads(self, X: pd.DataFrame) -> int:
        return self.n_threads if len(X) >= PARALLEL_ROWS else 1

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        state = {
            "kind": self.kind,
            "params": self._params_state(),
            "feature_names": list(self.feature_names_),
            "classes": list(self.classes_),
            "booster": self.booster_.model_to_string(),
        }
        if hasattr(self, "category_booster_"):
            state["category_booster"] = self.category_booster_.model_to_string()
        return state

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> GradientBoostedDetector:
        import lightgbm as lgb

        detector = cls(**state["params"])
        detector.feature_names_ = tuple(state["feature_names"])
        detector.classes_ = tuple(state["classes"])
        detector.booster_ = lgb.Booster(model_str=state["booster"])
        if "category_booster" in state:
            detector.category_booster_ = lgb.Booster(model_str=state["category_booster"])
        return detector

    def _params_state(self) -> dict[str, Any]:
        """Parameters as plain JSON, as saved models hold them (no constraint: {})."""
        return {**super()._params_state(), "monotone": dict(self.monotone or {})}
