"""Novelty detector: squared distance to the nearest profile of normal traffic.

Trained on normal records only, so it can flag attacks never seen in training. Records
are mapped to a scaled space where each numeric feature is in [0, 1]: ``scaling="quantile"``
takes its mid-rank position among normal training values (robust to heavy tails; values
beyond the normal range saturate), ``"minmax"`` min-max scales it (after log1p for
``log_features``). Categories are one-hot, weighted by ``categorical_weight``. k-means
prototypes summarise normal traffic. Suspicion is the squared distance to the nearest
prototype, which is exactly a sum of one term per feature: that sum is the explanation.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import pandas as pd

from trustshield.detectors.inputs import check_frame, check_labels, check_rows, feature_matrix
from trustshield.detectors.parallel import run_jobs
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import Attributions, attack_mask, check_columns, check_fitted
from trustshield.detectors.registry import register
from trustshield.errors import DataError

SCALINGS = ("quantile", "minmax")
CHUNK_ROWS = 4096
#: a distance product with fewer multiply-adds than this (rows × prototypes × features)
#: runs BLAS on the calling thread: handing a small block to a second thread costs more
#: than the product on a busy machine (novelty scores of 100 rows against 256 prototypes,
#: median on a loaded 2-core machine: ~5 ms with BLAS threads, ~1 ms on one)
SMALL_PRODUCT = 1 << 24
#: from this many rows, scoring and explaining split the rows among ``n_threads`` threads
#: (each row's result is computed alone, so the split changes no value)
PARALLEL_ROWS = 2 * CHUNK_ROWS
_R = TypeVar("_R")
_BLAS: dict[str, Any] = {"lock": threading.Lock(), "controller": None}


@register("prototype")
class NormalPrototypeDetector(Parameters):
    kind: ClassVar[str]  # set by @register
    """Distance-to-normal novelty scorer with exact per-feature decomposition."""

    def __init__(
        self,
        *,
        n_prototypes: int = 256,
        scaling: str = "quantile",
        categorical_weight: float = 1.0,
        categorical: tuple[str, ...] = (),
        log_features: tuple[str, ...] = (),
        seed: int = 0,
        n_threads: int = 1,
    ):
        self.n_prototypes = n_prototypes
        self.scaling = scaling
        self.categorical_weight = categorical_weight
        self.categorical = tuple(categorical)
        self.log_features = tuple(log_features)
        self.seed = seed
        self.n_threads = n_threads

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> NormalPrototypeDetector:
        """Fit on the normal rows of X (all rows when y is None)."""
        if self.scaling not in SCALINGS:
            raise DataError(f"scaling must be one of {list(SCALINGS)}, got {self.scaling!r}")
        name = type(self).__name__
        check_rows(check_frame(X, name, "fit"), name, "fit")
        matrix = feature_matrix(X, name, "fit", self.categorical)
        if y is not None:
            matrix = matrix[~attack_mask(check_labels(y, len(X), name, "fit"))]
            if len(matrix) == 0:
                raise DataError(f"{name}.fit() learns normal traffic: y marks no row normal")
        self.feature_names_ = tuple(X.columns)
        self._fit_space(matrix)
        from sklearn.cluster import KMeans  # training only; keeps scoring start-up light

        space = np.unique(self._embed(matrix), axis=0)
        k = min(self.n_prototypes, len(space))
        km = KMeans(n_clusters=k, n_init=1, random_state=self.seed).fit(space)
        self.prototypes_ = km.cluster_centers_
        self._blocks()
        return self

    def _fit_space(self, matrix: np.ndarray) -> None:
        names = self.feature_names_
        self.is_categorical_ = np.array([n in self.categorical for n in names])
        self.is_log_ = np.array([n in self.log_features for n in names])
        self.n_levels_ = np.array(
            [
                int(np.nanmax(matrix[:, j])) + 1 if self.is_categorical_[j] else 0
                for j in range(len(names))
            ]
        )
        numeric = self._numeric(matrix)
        self.low_ = numeric.min(axis=0)
        span = numeric.max(axis=0) - self.low_
        self.span_ = np.where(span > 0, span, 1.0)
        self.levels_, self.ranks_ = [], []
        if self.scaling == "quantile":
            for column in numeric.T:
                levels, counts = np.unique(column, return_counts=True)
                self.levels_.append(levels)
                self.ranks_.append(np.concatenate([[0], np.cumsum(counts)]) / len(column))

    def _scale(self, numeric: np.ndarray) -> np.ndarray:
        """Numeric block → [0, 1] per column (mid-rank among normals, or min-max)."""
        if self.scaling == "minmax":
            return np.asarray((numeric - self.low_) / self.span_)
        out = np.empty_like(numeric)
        for j, (levels, ranks) in enumerate(zip(self.levels_, self.ranks_)):
            below = ranks[np.searchsorted(levels, numeric[:, j], side="left")]
            upto = ranks[np.searchsorted(levels, numeric[:, j], side="right")]
            out[:, j] = (below + upto) / 2
        return out

    def _numeric(self, matrix: np.ndarray) -> np.ndarray:
        numeric = matrix[:, ~self.is_categorical_].copy()
        logs = self.is_log_[~self.is_categorical_]
        numeric[:, logs] = np.log1p(np.maximum(numeric[:, logs], 0))
        return np.asarray(np.nan_to_num(numeric, nan=0.0))

    def _embed(self, matrix: np.ndarray) -> np.ndarray:
        """Scaled space, shape (n, n_numeric + Σ levels); unseen categories embed as zeros."""
        parts = [self._scale(self._numeric(matrix))]
        scale = self.categorical_weight / np.sqrt(2.0)
        for j in np.flatnonzero(self.is_categorical_):
            codes = matrix[:, j]
            onehot = np.zeros((len(matrix), self.n_levels_[j]))
            ok = ~np.isnan(codes) & (codes < self.n_levels_[j])
            onehot[np.flatnonzero(ok), codes[ok].astype(int)] = scale
            parts.append(onehot)
        return np.hstack(parts)

    def _blocks(self) -> None:
        """Split prototypes (k, p + Σ levels) into the numeric block and one block per
        categorical feature, each transposed with a zero row appended for "no category"."""
        n_numeric = int((~self.is_categorical_).sum())
        self.numeric_protos_ = self.prototypes_[:, :n_numeric]
        self.category_protos_, self.block_sq_ = [], {}
        start = n_numeric
        for j in np.flatnonzero(self.is_categorical_):
            block = self.prototypes_[:, start : start + self.n_levels_[j]]
            self.category_protos_.append(np.vstack([block.T, np.zeros(len(block))]))
            self.block_sq_[j] = (block**2).sum(axis=1)
            start += self.n_levels_[j]
        self.prototype_sq_ = (self.prototypes_**2).sum(axis=1)
        self.profiles_ = self._profiles()

    def _parts(self, matrix: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Scaled numeric block (n, p) and, per categorical feature, level codes (n,) where
        an unseen or missing level is coded as the appended zero row."""
        numeric = self._scale(self._numeric(matrix))
        codes = []
        for j, block in zip(np.flatnonzero(self.is_categorical_), self.category_protos_):
            c = matrix[:, j]
            ok = ~np.isnan(c) & (c < self.n_levels_[j])
            codes.append(np.where(ok, np.nan_to_num(c), len(block) - 1).astype(np.intp))
        return numeric, codes

    def _nearest(
        self, numeric: np.ndarray, codes: list[np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Index of and squared distance to the nearest prototype, each (n,). Rows go in
        chunks so the (rows, k) distance block stays small; the one-hot part is gathered
        from the prototype blocks instead of multiplied."""
        scale = self.categorical_weight / np.sqrt(2.0)
        index = np.empty(len(numeric), dtype=np.intp)
        for start in range(0, len(numeric), CHUNK_ROWS):
            rows = slice(start, start + CHUNK_ROWS)
            block_d = _product(numeric[rows], self.numeric_protos_.T)
            for block, code in zip(self.category_protos_, codes):
                block_d += scale * block[code[rows]]
            block_d *= -2
            block_d += self.prototype_sq_
            index[rows] = block_d.argmin(axis=1)
        return index, self._terms(numeric, codes, index).sum(axis=1)

    def _terms(
        self, numeric: np.ndarray, codes: list[np.ndarray], nearest: np.ndarray
    ) -> np.ndarray:
        """Per-feature terms (n, d) of the squared distance to the given prototypes."""
        values = np.empty((len(numeric), len(self.feature_names_)))
        values[:, ~self.is_categorical_] = (numeric - self.numeric_protos_[nearest]) ** 2
        scale = self.categorical_weight / np.sqrt(2.0)
        for j, block, code in zip(
            np.flatnonzero(self.is_categorical_), self.category_protos_, codes
        ):
            own = np.where(code < len(block) - 1, scale**2, 0.0)
            values[:, j] = own - 2 * scale * block[code, nearest] + self.block_sq_[j][nearest]
        return values

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        """Squared scaled distance to the nearest normal prototype; shape (n,), ≥ 0."""
        check_fitted(self, "suspicion")
        blocks = self._by_rows(
            check_columns(self, X), lambda rows: self._nearest(*self._parts(rows))[1]
        )
        return np.concatenate(blocks)

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Per-feature terms of the squared distance to the nearest prototype; base is 0."""
        check_fitted(self, "explain")

        def terms(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            numeric, codes = self._parts(rows)
            nearest, _ = self._nearest(numeric, codes)
            return self._terms(numeric, codes, nearest), nearest

        blocks = self._by_rows(check_columns(self, X, "explain"), terms)
        values = np.concatenate([b[0] for b in blocks])
        nearest = np.concatenate([b[1] for b in blocks])
        return Attributions(
            self.feature_names_, values, np.zeros(len(values)), reference=self.profiles_[nearest]
        )

    def _by_rows(self, matrix: np.ndarray, compute: Callable[[np.ndarray], _R]) -> list[_R]:
        """``compute`` on consecutive row blocks of ``matrix`` (n, d), in row order: one
        block, or ``n_threads`` blocks computed side by side from PARALLEL_ROWS rows."""
        if self.n_threads <= 1 or len(matrix) < PARALLEL_ROWS:
            return [compute(matrix)]
        bounds = np.linspace(0, len(matrix), self.n_threads + 1).astype(int)
        jobs = [partial(compute, matrix[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        return run_jobs(jobs, self.n_threads)

    def _profiles(self) -> np.ndarray:
        """Every prototype in encoded feature units, (k, d): numeric features read back
        through the scaling (the normal value nearest that rank, or min-max inverse),
        categorical ones as the profile's most common level."""
        nearest = np.arange(len(self.prototypes_))
        scaled = self.numeric_protos_[nearest]
        if self.scaling == "minmax":
            numeric = self.low_ + scaled * self.span_
        else:
            numeric = np.empty_like(scaled)
            for j, (levels, ranks) in enumerate(zip(self.levels_, self.ranks_)):
                mid = (ranks[:-1] + ranks[1:]) / 2
                upper = (
                    np.clip(np.searchsorted(mid, scaled[:, j]), 1, len(mid) - 1)
                    if len(mid) > 1
                    else np.zeros(len(scaled), dtype=np.intp)
                )
                lower = np.maximum(upper - 1, 0)
                closer = np.abs(mid[lower] - scaled[:, j]) <= np.abs(mid[upper] - scaled[:, j])
                numeric[:, j] = levels[np.where(closer, lower, upper)]
        logs = self.is_log_[~self.is_categorical_]
        numeric[:, logs] = np.expm1(numeric[:, logs])
        out = np.empty((len(nearest), len(self.feature_names_)))
        out[:, ~self.is_categorical_] = numeric
        for col, block in zip(np.flatnonzero(self.is_categorical_), self.category_protos_):
            out[:, col] = block[:-1].argmax(axis=0)[nearest]
        return out

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        return {
            "kind": self.kind,
            "params": self._params_state(),
            "feature_names": list(self.feature_names_),
            "n_levels": self.n_levels_.tolist(),
            "low": self.low_.tolist(),
            "span": self.span_.tolist(),
            "levels": [v.tolist() for v in self.levels_],
            "ranks": [v.tolist() for v in self.ranks_],
            "prototypes": self.prototypes_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> NormalPrototypeDetector:
        detector = cls(**state["params"])
        detector.feature_names_ = tuple(state["feature_names"])
        names = detector.feature_names_
        detector.is_categorical_ = np.array([n in detector.categorical for n in names])
        detector.is_log_ = np.array([n in detector.log_features for n in names])
        detector.n_levels_ = np.array(state["n_levels"])
        detector.low_, detector.span_ = np.array(state["low"]), np.array(state["span"])
        detector.levels_ = [np.array(v) for v in state["levels"]]
        detector.ranks_ = [np.array(v) for v in state["ranks"]]
        detector.prototypes_ = np.array(state["prototypes"])
        detector._blocks()
        return detector


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b``; a small product (see SMALL_PRODUCT) with BLAS held to one thread."""
    if a.shape[0] * a.shape[1] * b.shape[1] >= SMALL_PRODUCT:
        return np.asarray(a @ b)
    from threadpoolctl import ThreadpoolController  # a scikit-learn dependency

    with _BLAS["lock"]:
        if _BLAS["controller"] is None:
            _BLAS["controller"] = ThreadpoolController()
        with _BLAS["controller"].limit(limits=1, user_api="blas"):
            return np.asarray(a @ b)
