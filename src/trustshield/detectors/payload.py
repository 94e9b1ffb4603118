"""``payload``: attack payloads in web-request parameter values, named and explained exactly.

A multinomial logistic regression over hashed character 1..max_n-grams of the normalised
payload (:mod:`trustshield.features.payload_text`). Classes are "normal" and the attack
types seen in training (e.g. sqli, xss, cmdi, path-traversal). For one payload with
n-gram vector x (unit L2 norm) and class logits z = W x + b, suspicion is the largest
margin of an attack type over "normal", ``max_k (z_k - z_normal)`` (log-odds units; higher
= more suspicious; > 0 means the model prefers that attack type to "normal"), and the
type named is that k. The margin is linear in x, so the explanation is exact by
construction: base ``b_k - b_normal`` plus one term per n-gram bucket
``x_j (W_kj - W_normal,j)``; :mod:`trustshield.explain.payload` maps the terms onto the
payload's characters.

It reads a DataFrame with one text column (``column``, default "payload"). The protocol's
``explain`` speaks of that one column (its value is the score less the base); the n-gram
terms come from :meth:`PayloadDetector.terms`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.sparse as sp

from trustshield.detectors.inputs import check_frame, check_labels, check_rows
from trustshield.detectors.params import Parameters
from trustshield.detectors.protocol import NORMAL, Attributions, check_fitted
from trustshield.detectors.registry import register
from trustshield.errors import DataError
from trustshield.features.payload_text import hashed_ngrams, normalise

#: MITRE ATT&CK technique of every web payload attack: Exploit Public-Facing Application
TECHNIQUE = "T1190"
#: the CWE of each attack type TrustShield names (an unknown type has none)
CWE = {
    "sqli": "CWE-89",
    "xss": "CWE-79",
    "cmdi": "CWE-78",
    "path-traversal": "CWE-22",
}
#: attack-type labels as other data sets spell them (lower case, letters and digits only)
#: -> the type name of :data:`CWE`
KNOWN_TYPES = {
    "sqli": "sqli",
    "sqlinjection": "sqli",
    "xss": "xss",
    "crosssitescripting": "xss",
    "cmdi": "cmdi",
    "commandinjection": "cmdi",
    "oscommandinjection": "cmdi",
    "pathtraversal": "path-traversal",
    "directorytraversal": "path-traversal",
}


def known_type(label: str) -> str | None:
    """The :data:`CWE` type a training label names however it is spelt ("SQL Injection",
    "sql_injection", "sqli" -> "sqli"); None for a type TrustShield does not know."""
    return KNOWN_TYPES.get(re.sub(r"[^a-z0-9]", "", str(label).lower()))


NOT_TEXT = "{name}.{method}(): column {column!r}, row position {row}: expected text; got {got!r}"
MISSING = "{name}.{method}(): no column {column!r} (the payload text); got columns {got}"
ONE_CLASS = "{name}.fit(): y must hold normal rows and attack rows; got classes {got}"


@dataclass(frozen=True)
class PayloadTerms:
    """Exact n-gram explanation of n payloads: suspicion = base + terms.sum(axis=1).

    ``terms`` is sparse (n, 2**bits), one column per n-gram hash bucket; ``base`` (n,)
    the intercept margin of each row's named type; ``attack_type`` (n,) that type."""

    terms: sp.csr_matrix
    base: np.ndarray
    attack_type: np.ndarray

    def total(self) -> np.ndarray:
        return np.asarray(self.base + np.asarray(self.terms.sum(axis=1)).ravel())


@register("payload")
class PayloadDetector(Parameters):
    """Linear n-gram payload detector; see the module docstring.

    ``max_n``: longest character n-gram (1..6); ``bits``: log2 of the hash buckets
    (10..22); ``C``: inverse L2 regularisation strength; ``normalise``: apply
    :func:`~trustshield.features.payload_text.normalise` before hashing (the hardening
    against case, encoding, comment and whitespace rewrites); ``balanced``: weight
    classes inversely to their frequency."""

    kind: ClassVar[str]

    def __init__(
        self,
        *,
        column: str = "payload",
        max_n: int = 4,
        bits: int = 18,
        C: float = 10.0,
        normalise: bool = True,
        balanced: bool = False,
    ):
        if not isinstance(max_n, int) or not 1 <= max_n <= 6:
            raise DataError(f"PayloadDetector: max_n must be an integer in 1..6; got {max_n!r}")
        if not isinstance(bits, int) or not 10 <= bits <= 22:
            raise DataError(f"PayloadDetector: bits must be an integer in 10..22; got {bits!r}")
        if not isinstance(C, (int, float)) or not C > 0:
            raise DataError(f"PayloadDetector: C must be a positive number; got {C!r}")
        self.column = column
        self.max_n = max_n
        self.bits = bits
        self.C = C
        self.normalise = normalise
        self.balanced = balanced

    # ------------------------------------------------------------------ inputs

    def texts(self, X: pd.DataFrame, method: str = "suspicion") -> list[str]:
        """The payload column of X as a list of str, checked (DataError naming the row)."""
        name = type(self).__name__
        check_frame(X, name, method)
        if self.column not in X.columns:
            raise DataError(
                MISSING.format(name=name, method=method, column=self.column, got=list(X.columns))
            )
        values: list[str] = X[self.column].tolist()
        for row, value in enumerate(values):
            if not isinstance(value, str):
                raise DataError(
                    NOT_TEXT.format(
                        name=name, method=method, column=self.column, row=row, got=value
                    )
                )
        return values

    def features(self, payloads: Sequence[str]) -> sp.csr_matrix:
        """(n, 2**bits) unit-norm n-gram counts of raw payloads."""
        texts = [normalise(p) for p in payloads] if self.normalise else list(payloads)
        return hashed_ngrams(texts, self.max_n, self.bits)

    # ------------------------------------------------------------------ fitting

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike | None = None) -> PayloadDetector:
        """Learn from payloads X (column ``column``) and labels y (n,): "normal" or an
        attack type name, or 0/1 (1 = attack, named "attack")."""
        name = type(self).__name__
        payloads = self.texts(X, "fit")
        check_rows(X, name, "fit")
        if y is None:
            raise DataError(f"{name}.fit() needs labels y: it learns attacks from examples")
        return self.fit_payloads(payloads, check_labels(y, len(X), name, "fit"))

    def fit_payloads(self, payloads: Sequence[str], y: npt.ArrayLike) -> PayloadDetector:
        """:meth:`fit` on a list of raw payload strings and their labels (n,)."""
        from sklearn.linear_model import LogisticRegression
        from threadpoolctl import threadpool_limits

        labels = _labels(np.asarray(y))
        classes = sorted(set(labels.tolist()))
        if NORMAL not in classes or len(classes) < 2:
            raise DataError(ONE_CLASS.format(name=type(self).__name__, got=classes))
        model = LogisticRegression(
            C=float(self.C),
            max_iter=2000,
            class_weight="balanced" if self.balanced else None,
        )
        features = self.features(payloads)
        with threadpool_limits(1):  # L-BFGS on one thread: deterministic, no oversubscription
            model.fit(features, labels)
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # scikit-learn keeps one row: the logit of classes_[1]
            sign = 1.0 if model.classes_[1] != NORMAL else -1.0
            attack = [c for c in model.classes_ if c != NORMAL]
            self._set(attack, sign * coef, sign * intercept)
        else:
            normal = list(model.classes_).index(NORMAL)
            keep = [i for i in range(len(model.classes_)) if i != normal]
            self._set(
                [str(model.classes_[i]) for i in keep],
                coef[keep] - coef[normal],
                intercept[keep] - intercept[normal],
            )
        self.feature_names_ = (self.column,)
        return self

    def _set(self, types: Sequence[str], margin: np.ndarray, base: np.ndarray) -> None:
        self.types_ = tuple(str(t) for t in types)
        self.margin_ = np.asarray(margin, dtype=np.float64).reshape(len(self.types_), -1)
        self.base_ = np.asarray(base, dtype=np.float64).ravel()

    # ------------------------------------------------------------------ scoring

    def score_payloads(self, payloads: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(suspicion (n,), attack type (n,)) of raw payload strings."""
        check_fitted(self, "suspicion")
        z = np.asarray(self.features(payloads) @ self.margin_.T) + self.base_
        best = z.argmax(axis=1)
        return z[np.arange(len(z)), best], np.asarray(self.types_, dtype=object)[best]

    def terms(self, payloads: Sequence[str]) -> PayloadTerms:
        """Exact n-gram terms of raw payloads (see :class:`PayloadTerms`)."""
        check_fitted(self, "explain")
        x = self.features(payloads)
        z = np.asarray(x @ self.margin_.T) + self.base_
        best = z.argmax(axis=1)
        rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
        values = x.data * self.margin_[best[rows], x.indices]
        terms = sp.csr_matrix((values, x.indices.copy(), x.indptr.copy()), shape=x.shape)
        types = np.asarray(self.types_, dtype=object)[best]
        return PayloadTerms(terms, self.base_[best], types)

    def suspicion(self, X: pd.DataFrame) -> np.ndarray:
        check_fitted(self, "suspicion")
        return self.score_payloads(self.texts(X))[0]

    def attack_type(self, X: pd.DataFrame) -> np.ndarray:
        """(n,) the attack type each row is most like (named whatever its score)."""
        check_fitted(self, "suspicion")
        return self.score_payloads(self.texts(X))[1]

    def explain(self, X: pd.DataFrame) -> Attributions:
        """Exact, over the one payload column: value = suspicion - base."""
        check_fitted(self, "explain")
        found = self.terms(self.texts(X, "explain"))
        values = np.asarray(found.terms.sum(axis=1)).reshape(-1, 1)
        return Attributions(self.feature_names_, values, found.base)

    # ------------------------------------------------------------------ state

    def to_dict(self) -> dict[str, Any]:
        check_fitted(self, "to_dict")
        row, col = np.nonzero(self.margin_)
        return {
            "kind": self.kind,
            "params": self.get_params(deep=False),
            "types": list(self.types_),
            "base": self.base_.tolist(),
            "margin": {
                "row": row.tolist(),
                "col": col.tolist(),
                "value": self.margin_[row, col].tolist(),
            },
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> PayloadDetector:
        detector = cls(**state["params"])
        m = state["margin"]
        shape = (len(state["types"]), 1 << detector.bits)
        margin = sp.coo_matrix(
            (np.asarray(m["value"], dtype=np.float64), (m["row"], m["col"])), shape=shape
        )
        detector._set(state["types"], margin.toarray(), np.asarray(state["base"]))
        detector.feature_names_ = (detector.column,)
        return detector


def _labels(y: np.ndarray) -> np.ndarray:
    """Label strings: NORMAL or an attack type; 0/1 and booleans become NORMAL/"attack"."""
    if y.dtype.kind in "biuf":
        return np.where(y.astype(bool), "attack", NORMAL).astype(object)
    return y.astype(str).astype(object)
