"""Encode validated records as numbers, with categories locked at fit time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.errors import NOT_FITTED, NotFittedError
from trustshield.specs import DatasetSpec


class FeatureEncoder:
    """Spec features → float64 frame, shape (n, n_features), columns in spec order.

    Numeric features pass through. A categorical feature becomes the integer code of its
    value among the categories seen at fit (sorted); a value unseen at fit becomes NaN,
    which every detector treats as "missing".
    """

    def __init__(self, spec: DatasetSpec):
        self.spec = spec

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.spec.feature_names

    @property
    def categorical(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec.features if c.type == "categorical")

    def fit(self, frame: pd.DataFrame) -> FeatureEncoder:
        self.categories_ = {name: tuple(sorted(frame[name].dropna().unique()))
                            for name in self.categorical}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "categories_"):
            raise NotFittedError(NOT_FITTED.format(name="FeatureEncoder", method="transform"))
        columns = {}
        for name in self.feature_names:
            if name in self.categories_:
                codes = pd.Index(self.categories_[name]).get_indexer(frame[name])
                columns[name] = np.where(codes < 0, np.nan, codes).astype(np.float64)
            else:
                columns[name] = frame[name].to_numpy(dtype=np.float64)
        return pd.DataFrame(columns, index=frame.index)

    def display(self, frame: pd.DataFrame) -> np.ndarray:
        """Feature values as people write them (511, not 511.0), str array (n, d)."""
        columns = []
        for col in self.spec.features:
            values = frame[col.name]
            if col.type in ("integer", "binary"):
                columns.append(values.to_numpy(dtype=np.int64).astype(str))
            elif col.is_numeric:
                columns.append(np.array([f"{v:g}" for v in values.to_numpy()], dtype=object))
            else:
                columns.append(values.to_numpy(dtype=object).astype(str))
        return np.column_stack(columns) if columns else np.empty((len(frame), 0), dtype=str)

    def decode(self, name: str, code: float) -> str | float:
        """The original value behind an encoded one (for rationale text)."""
        if name not in self.categories_:
            return code
        if np.isnan(code):
            return "unseen"
        return self.categories_[name][int(code)]

    def to_dict(self) -> dict:
        return {"categories": {k: list(v) for k, v in self.categories_.items()}}

    @classmethod
    def from_dict(cls, spec: DatasetSpec, state: dict) -> FeatureEncoder:
        encoder = cls(spec)
        encoder.categories_ = {k: tuple(v) for k, v in state["categories"].items()}
        return encoder
