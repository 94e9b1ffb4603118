"""Encode validated records as numbers, with categories locked at fit time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
        self.categories_ = {
            name: tuple(sorted(frame[name].dropna().unique())) for name in self.categorical
        }
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "categories_"):
            raise NotFittedError(NOT_FITTED.format(name="FeatureEncoder", method="transform"))
        names, codes, columns = self._lookups()
        matrix = np.empty((len(frame), len(names)), dtype=np.float64)
        numeric = [j for j, name in enumerate(names) if name not in codes]
        position = {name: i for i, name in enumerate(frame.columns.tolist())}
        missing = [names[j] for j in numeric if names[j] not in position]
        if missing:
            raise KeyError(f"{missing} not in the frame's columns")
        matrix[:, numeric] = frame.iloc[:, [position[names[j]] for j in numeric]].to_numpy(
            dtype=np.float64
        )
        for j, name in enumerate(names):
            if name in codes:
                lookup = codes[name]
                matrix[:, j] = [lookup.get(v, np.nan) for v in frame[name].to_numpy()]
        return pd.DataFrame(matrix, columns=columns, index=frame.index)

    def _lookups(self) -> tuple[tuple[str, ...], dict[str, dict], pd.Index]:
        """Feature names, {category: code} per categorical feature, and the output column
        index; built once per fitted state (a frame of 100 rows costs less than building
        them)."""
        cached = self.__dict__.get("_lookups_of")
        if cached is None or cached[0] is not self.categories_:
            codes = {
                name: {v: float(i) for i, v in enumerate(values)}
                for name, values in self.categories_.items()
            }
            names = self.feature_names
            cached = (self.categories_, (names, codes, pd.Index(names, dtype=object)))
            self.__dict__["_lookups_of"] = cached
        return cached[1]

    def format(self, name: str, values) -> list[str]:
        """Raw values of one feature as people write them (511, not 511.0; 'missing')."""
        kind = self.spec.column(name).type
        return [value_text(v, kind) for v in values]

    def format_encoded(self, name: str, values) -> list[str]:
        """Encoded values of one feature as text: category names, whole numbers rounded,
        reals to 3 significant digits."""
        kind, categories = self.spec.column(name).type, self.categories_.get(name, ())
        return [value_text(v, kind, categories, real=".3g") for v in values]

    def describe_features(self) -> list[dict]:
        """{name, type, categories} per feature, in model order (for stores and readers)."""
        return [
            {"name": c.name, "type": c.type, "categories": list(self.categories_.get(c.name, ()))}
            for c in self.spec.features
        ]

    def to_dict(self) -> dict:
        return {"categories": {k: list(v) for k, v in self.categories_.items()}}

    @classmethod
    def from_dict(cls, spec: DatasetSpec, state: dict) -> FeatureEncoder:
        encoder = cls(spec)
        encoder.categories_ = {k: tuple(v) for k, v in state["categories"].items()}
        return encoder


def as_written(value: float, feature: dict) -> str:
    """A stored encoded value as the record held it (category name, 511 rather than 511.0);
    ``feature`` is one entry of :meth:`FeatureEncoder.describe_features`."""
    return value_text(value, feature["type"], feature["categories"])


def value_text(value: Any, kind: str, categories: Sequence[str] = (), *, real: str = "g") -> str:
    """One value of a feature of column type ``kind`` as people write it: with
    ``categories`` (encoded codes) the category's name, "unseen" for NaN; an integer or
    binary value as a whole number (511, not 511.0), "missing" for NaN; a real or rate in
    format spec ``real`` (default "g"); any other value (a raw category) via str()."""
    if categories:
        return "unseen" if value != value else categories[int(value)]
    if kind in ("integer", "binary"):
        return "missing" if value != value else str(int(round(value)))
    if kind in ("real", "rate"):
        return format(value, real)
    return str(value)
