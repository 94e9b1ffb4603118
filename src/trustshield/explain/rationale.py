"""One line a SOC analyst can read, from an alert's exact attributions.

"Probe (T1046 Network Service Discovery): dst_host_diff_srv_rate 0.91, normal median
0.02; service private, 1.5 % of normal" — or, when the novelty component set the score,
"DoS (T1499 Endpoint Denial of Service), unlike normal traffic: count 510, nearest normal
profile 2; srv_count 510, nearest normal profile 2"
"""

from __future__ import annotations

import numpy as np

from trustshield.detectors.protocol import Attributions
from trustshield.explain.reference import NormalReference

TOP_REASONS = 3
#: a reason must carry at least this share of the largest positive contribution; a row
#: with no positive contribution names its largest one by magnitude instead
MIN_SHARE = 0.1


def rationales(
    *,
    headlines: np.ndarray,
    attributions: Attributions,
    X: np.ndarray,
    shown,
    reference: NormalReference,
    encoded_text=None,
) -> np.ndarray:
    """One line per row (m,): headline, then each top feature with its value and what
    normal looks like. ``X`` (m, d) holds encoded values; ``shown(j, rows)`` returns
    feature j of those rows as text (only cells that appear in a line are formatted).
    Where the attributions compare a row with a reference (``attributions.reference``,
    e.g. the nearest normal profile), that reference value is named instead of the
    population's, through ``encoded_text(j, values)``."""
    values = attributions.values
    m, names = len(values), attributions.feature_names
    if m == 0:
        return np.empty(0, dtype=object)
    order = np.argsort(-values, axis=1, kind="stable")[:, :TOP_REASONS]
    top = np.take_along_axis(values, order, axis=1)
    keep = (top > 0) & (top >= MIN_SHARE * top[:, :1])
    fallback = ~keep.any(axis=1)
    order[fallback, 0] = np.abs(values[fallback]).argmax(axis=1)
    keep[fallback, 0] = True
    pieces = np.full(order.shape, "", dtype=object)
    for j in np.unique(order[keep]):
        at = keep & (order == j)
        rows = np.flatnonzero(at.any(axis=1))
        normal = _normal_texts(j, rows, attributions, X, reference, encoded_text)
        pieces[at] = [f"{names[j]} {t}, {n}" for t, n in zip(shown(j, rows), normal)]
    return np.array(
        [f"{h}: " + "; ".join(p for p in row if p) for h, row in zip(headlines, pieces)],
        dtype=object,
    )


def _normal_texts(j, rows, attributions, X, reference, encoded_text) -> np.ndarray:
    """For feature j of the given rows: the nearest normal profile's value where the row
    was compared with one, else the normal population's median or category share."""
    normal = np.empty(len(rows), dtype=object)
    compared = np.zeros(len(rows), dtype=bool)
    if attributions.reference is not None and encoded_text is not None:
        values = attributions.reference[rows, j]
        compared = ~np.isnan(values)
        values = values[compared].tolist()
        distinct = list(dict.fromkeys(values))  # each profile value is formatted once
        texts = {
            v: f"nearest normal profile {t}" for v, t in zip(distinct, encoded_text(j, distinct))
        }
        normal[compared] = [texts[v] for v in values]
    name = attributions.feature_names[j]
    normal[~compared] = [reference.normal_text(name, X[i, j]) for i in rows[~compared]]
    return normal
