"""Synthetic typings built in code (never samples of a real data set).

Columns follow the keystroke naming the verifiers and rationales understand: holds and
latencies in ms (log-normal around a per-subject rhythm), pressure and finger area in
(0, 1). ``identity`` features carry the subject's signature; ``noise`` features are drawn
from one distribution for everybody.
"""

import numpy as np
import pandas as pd

FEATURES = ("Hold e", "DD i.e", "UD i.e", "Pressure e", "Size e", "Hold Shift.1")


def typist(seed: int, n: int, *, scale: float = 1.0, spread: float = 0.1) -> pd.DataFrame:
    """``n`` typings of one synthetic subject; ``scale`` multiplies every latency."""
    rng = np.random.default_rng(seed)
    centre = (
        np.array([90.0, 400.0, 310.0, 0.2, 0.3, 85.0]) * np.r_[scale, scale, scale, 1, 1, scale]
    )
    values = centre * np.exp(rng.normal(0.0, spread, (n, len(FEATURES))))
    return pd.DataFrame(values, columns=list(FEATURES))


def population(
    n_subjects: int = 8, n_typings: int = 51, *, seed: int = 0, informative: int = 3
) -> pd.DataFrame:
    """Subjects "s1".."sN": the first ``informative`` features shift with the subject, the
    others do not. Rows are interleaved between subjects (not grouped), so "first" typings
    must be found in file order within each subject."""
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_subjects):
        signature = np.exp(rng.normal(0.0, 0.3, len(FEATURES)))
        signature[informative:] = 1.0
        typings = typist(seed * 100 + k, n_typings) * signature
        typings.insert(0, "Subject", f"s{k + 1}")
        typings["order"] = np.arange(n_typings) * n_subjects + k
        frames.append(typings)
    frame = pd.concat(frames).sort_values("order", kind="stable")
    return frame.drop(columns="order").reset_index(drop=True)
