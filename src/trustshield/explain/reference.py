"""What normal training traffic looks like, per feature, for rationale text."""

from __future__ import annotations

import numpy as np
import pandas as pd


class NormalReference:
    """Median of each numeric feature and the share of each category among normal
    training records (encoded features, shape (n, d))."""

    def fit(self, X: pd.DataFrame, *, categorical: tuple[str, ...]) -> NormalReference:
        self.median_ = {c: float(np.nanmedian(X[c])) for c in X.columns if c not in categorical}
        self.share_ = {c: X[c].value_counts(normalize=True).to_dict() for c in categorical}
        self.share_ = {
            c: {float(k): float(v) for k, v in shares.items()} for c, shares in self.share_.items()
        }
        return self

    def normal_text(self, feature: str, value: float) -> str:
        """'normal median 2', or for a category value '1.5 % of normal'."""
        key = (feature, float(value) if feature in self.share_ else None)
        cache = self.__dict__.setdefault("_texts", {})
        if key not in cache:
            if feature in self.share_:
                cache[key] = f"{100 * self.share_[feature].get(key[1], 0.0):.1f} % of normal"
            else:
                cache[key] = f"normal median {_num(self.median_.get(feature, np.nan))}"
        return cache[key]

    def to_dict(self) -> dict:
        return {
            "median": self.median_,
            "share": {c: [[k, v] for k, v in s.items()] for c, s in self.share_.items()},
        }

    @classmethod
    def from_dict(cls, state: dict) -> NormalReference:
        ref = cls()
        ref.median_ = dict(state["median"])
        ref.share_ = {
            c: {float(k): float(v) for k, v in pairs} for c, pairs in state["share"].items()
        }
        return ref


def _num(value: float) -> str:
    if np.isnan(value):
        return "n/a"
    return f"{value:.3g}" if value != int(value) else str(int(value))
