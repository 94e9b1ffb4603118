"""One line a SOC analyst can read, from an alert's exact attributions.

"Probe (T1046 Network Service Discovery), novelty: dst_host_diff_srv_rate 0.91, normal
median 0.02; count 511, normal median 2; service private, 1.5 % of normal"
"""

from __future__ import annotations

import numpy as np

from trustshield.detectors.protocol import Attributions
from trustshield.explain.reference import NormalReference

TOP_REASONS = 3
#: a reason must carry at least this share of the largest positive contribution
MIN_SHARE = 0.1


def top_features(attributions: Attributions, row: int, k: int = TOP_REASONS) -> list[int]:
    """Indices of up to k features pushing hardest towards "suspicious"; contributions
    under MIN_SHARE of the largest are left out (they explain nothing to a reader)."""
    values = attributions.values[row]
    order = np.argsort(-values, kind="stable")[:k]
    largest = values[order[0]]
    positive = [int(j) for j in order if values[j] > 0 and values[j] >= MIN_SHARE * largest]
    return positive or [int(np.argmax(np.abs(values)))]


def rationale(*, headline: str, attributions: Attributions, row: int, shown_values: list[str],
              raw_values: np.ndarray, reference: NormalReference) -> str:
    """Headline, then each top feature with its value and what normal looks like.

    ``shown_values`` (d,) are the record's values as text; ``raw_values`` (d,) encoded.
    """
    names = attributions.feature_names
    parts = [reference.describe(names[j], raw_values[j], shown_values[j])
             for j in top_features(attributions, row)]
    return f"{headline}: " + "; ".join(parts)
