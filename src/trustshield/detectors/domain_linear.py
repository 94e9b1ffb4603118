"""The character n-gram part of the ``domain`` detector: a logistic regression over the
binary terms of :mod:`trustshield.features.domain_terms`, exact by construction (a score
is the intercept plus the weights of the terms a name holds), with its weights spread
over the characters each term covers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trustshield.features import domain_terms
from trustshield.features.domain import Names


@dataclass(frozen=True)
class TermModel:
    """A fitted term model: ``space`` numbers the terms, ``weights`` (space.size,) and
    ``intercept`` are the logistic regression's."""

    space: domain_terms.TermSpace
    weights: np.ndarray
    intercept: float

    def parts(self, names: Names, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-slot weights (n, T) (0 where a slot holds no known term) and the slots'
        term numbers (n, T), -1 where none."""
        ids = domain_terms.encode(self.space, names, values)
        padded = np.append(self.weights, 0.0)
        return padded[np.where(ids >= 0, ids, len(self.weights))], ids

    def score(self, names: Names, values: np.ndarray) -> np.ndarray:
        """Log-odds (n,)."""
        return np.asarray(self.intercept + self.parts(names, values)[0].sum(axis=1))

    def characters(self, names: Names, parts: np.ndarray, width: int) -> np.ndarray:
        """The score less the intercept, spread over each name's characters (n, width)."""
        lo, hi = domain_terms.slot_spans(names)
        return spread(parts, lo, hi, width)

    def to_state(self) -> dict[str, Any]:
        return {
            "intercept": self.intercept,
            "weights": self.weights.tolist(),
            "ngrams": self.space.ngrams.tolist(),
            "edges": [e.tolist() for e in self.space.edges],
            "tlds": list(self.space.tlds),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TermModel:
        space = domain_terms.TermSpace(
            ngrams=np.asarray(state["ngrams"], dtype=np.int64),
            edges=tuple(np.asarray(e, dtype=np.float64) for e in state["edges"]),
            tlds=tuple(state["tlds"]),
        )
        return cls(space, np.asarray(state["weights"], dtype=np.float64), float(state["intercept"]))


def fit_terms(
    names: Names, values: np.ndarray, target: np.ndarray, C: float, min_count: int
) -> TermModel:
    """Learn the term space from ``names`` and fit the regression on target (n,) 0/1."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    space = domain_terms.learn_space(names, values, min_count)
    ids = domain_terms.encode(space, names, values)
    rows, cols = np.nonzero(ids >= 0)
    design = sparse.csr_matrix(
        (np.ones(len(rows)), (rows, ids[rows, cols])), shape=(len(ids), space.size)
    )
    design.sum_duplicates()  # a term's count in the name, as scoring sums it
    model = LogisticRegression(C=C, max_iter=2000, solver="liblinear").fit(design, target)
    return TermModel(space, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def spread(parts: np.ndarray, lo: np.ndarray, hi: np.ndarray, width: int) -> np.ndarray:
    """Each slot's part (n, T) spread evenly over characters lo..hi-1 → (n, width)."""
    n = len(parts)
    share = parts / np.maximum(hi - lo, 1)
    # difference array: +share at lo, -share at hi, then a running sum along the name
    base = (np.arange(n) * (width + 1))[:, None]
    size = n * (width + 1)
    diff = np.bincount((base + lo).ravel(), share.ravel(), size) - np.bincount(
        (base + hi).ravel(), share.ravel(), size
    )
    return np.cumsum(diff.reshape(n, width + 1), axis=1)[:, :width]
