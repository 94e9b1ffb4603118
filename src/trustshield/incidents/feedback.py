"""Analysts' outcomes on incidents as flow labels for the next behaviour training run.

:func:`labelled_by_review` is pure: flows whose ``uid`` is evidence of a confirmed incident
become ``Malicious``; of a dismissed one, ``Benign`` (the analyst's word replaces a label
the log carried). A log without labels gains a ``label`` column only when some of its flows
are evidence of a confirmed incident; its other flows are then ``Benign``, which is what
the site baseline already assumes of unlabelled traffic.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

MALICIOUS, BENIGN = "Malicious", "Benign"


def labelled_by_review(
    flows: pd.DataFrame, confirmed: Iterable[str], dismissed: Iterable[str]
) -> tuple[pd.DataFrame, int]:
    """(``flows`` with labels from the reviews, how many flows a review labelled); a
    uid both confirmed and dismissed (two incidents) counts as confirmed."""
    if "uid" not in flows.columns:
        return flows, 0
    uids = flows["uid"].astype(str)
    attack = uids.isin(set(confirmed)).to_numpy()
    normal = uids.isin(set(dismissed)).to_numpy() & ~attack
    if not attack.any() and not (normal.any() and "label" in flows.columns):
        return flows, 0
    out = flows.copy()
    label = (
        out["label"].astype(object).to_numpy()
        if "label" in out.columns
        else np.full(len(out), BENIGN, object)
    )
    label = np.where(attack, MALICIOUS, np.where(normal, BENIGN, label))
    out["label"] = label
    return out, int(attack.sum() + normal.sum())
