"""The peers a user would pick instead of the ``payload`` detector, run beside it.

- **libinjection** (``libinjection-python``, the engine of ModSecurity's ``@detectSQLi``
  and ``@detectXSS``): a payload is flagged when either says so; it has no score and no
  threshold. :func:`libinjection_flags` returns None when the package is not installed.
- **character 1-4-gram TF-IDF + logistic regression** (scikit-learn defaults otherwise):
  binary attack-vs-normal; its score is the decision function (log-odds), thresholded at
  the same benign false-positive rate as TrustShield's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


def libinjection_flags(payloads: Sequence[str]) -> np.ndarray | None:
    """(n,) bool: libinjection calls the payload SQLi or XSS; None without the package."""
    try:
        import libinjection
    except ImportError:
        return None
    sqli, xss = libinjection.is_sql_injection, libinjection.is_xss
    return np.fromiter(
        (bool(sqli(p)["is_sqli"]) or bool(xss(p)["is_xss"]) for p in payloads),
        dtype=bool,
        count=len(payloads),
    )


@dataclass
class TfidfPeer:
    """Character 1-4-gram TF-IDF with logistic regression (fit on raw payloads)."""

    model: Any = None

    def fit(self, payloads: Sequence[str], attack: np.ndarray) -> TfidfPeer:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        self.model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(1, 4)),
            LogisticRegression(max_iter=1000),
        ).fit(list(payloads), np.asarray(attack, dtype=int))
        return self

    def score(self, payloads: Sequence[str]) -> np.ndarray:
        """(n,) log-odds of attack; higher = more suspicious."""
        return np.asarray(self.model.decision_function(list(payloads)), dtype=np.float64)
