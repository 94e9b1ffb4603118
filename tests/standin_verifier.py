"""A small scaled-Manhattan verifier that follows the one-user verifier contract, so that
decisions, templates and the CLI are tested without the real keystroke or mouse models."""

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions


class ScaledManhattan:
    """Suspicion = mean over features of |x − enrolment mean| / enrolment mean absolute
    deviation; exactly additive per feature."""

    def fit(self, X: pd.DataFrame):
        values = X.to_numpy(dtype=float)
        self.feature_names_ = tuple(X.columns)
        self.mean_ = values.mean(axis=0)
        self.spread_ = np.maximum(np.abs(values - self.mean_).mean(axis=0), 1e-9)
        return self

    def _terms(self, X: pd.DataFrame) -> np.ndarray:
        values = X[list(self.feature_names_)].to_numpy(dtype=float)
        return np.abs(values - self.mean_) / self.spread_ / len(self.feature_names_)

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        return self._terms(X).sum(axis=1)

    def explain(self, X: pd.DataFrame) -> Attributions:
        terms = self._terms(X)
        return Attributions(self.feature_names_, terms, np.zeros(len(terms)))

    def to_dict(self) -> dict:
        return {
            "features": list(self.feature_names_),
            "mean": self.mean_.tolist(),
            "spread": self.spread_.tolist(),
        }

    @classmethod
    def from_dict(cls, state: dict):
        verifier = cls()
        verifier.feature_names_ = tuple(state["features"])
        verifier.mean_ = np.array(state["mean"], dtype=float)
        verifier.spread_ = np.array(state["spread"], dtype=float)
        return verifier


def typings(
    seed: int, n: int, *, centre: float = 100.0, noise: float = 10.0, features: int = 4
) -> pd.DataFrame:
    """``n`` samples of one synthetic typist: values with three decimals (so that a leaked
    value is recognisable in printed output)."""
    rng = np.random.default_rng(seed)
    values = centre + rng.normal(0, noise, (n, features)) + np.arange(features) * 17.0
    return pd.DataFrame(np.round(values, 3), columns=[f"Hold k{i}" for i in range(features)])
