"""One line per mouse-dynamics verdict: which traits departed most from the owner.

"deny after 23 actions (score +0.84): click_time +0.31 (median 0.21 s, owner 0.09 s);
speed_max +0.18 (median 1.83e+03 px/s, owner 980 px/s); DD share +0.09 (12% of actions,
owner 4%)"

The signed figure after a trait is its exact share of the session score (session
attributions from :func:`trustshield.detectors.mouse.session_attributions`); in brackets,
the session's typical value of the trait over the actions used (median, or share of
actions for the kind indicators) beside the owner's profile from training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.detectors.mouse import SHARES, first_actions
from trustshield.detectors.protocol import Attributions
from trustshield.features.mouse_actions import unit_of

TOP_TRAITS = 3


def session_traits(actions: pd.DataFrame, *, sessions, features, n_actions=None) -> pd.DataFrame:
    """Typical value of each trait per session over its first ``n_actions`` actions (as in
    :func:`~trustshield.detectors.mouse.first_actions`): share of actions for kind
    indicators, median otherwise; sessions in order of appearance."""
    sessions = np.asarray(sessions)
    used = first_actions(sessions, n_actions)
    frame = actions.loc[used, list(features)].set_axis(sessions[used], axis=0)
    grouped = frame.groupby(level=0, sort=False)
    medians = grouped.median()
    shares = [f for f in features if f in SHARES]
    if shares:
        medians[shares] = grouped[shares].mean()
    return medians


def mouse_rationales(
    *, headlines, attributions: Attributions, observed: pd.DataFrame, profile: dict[str, float]
) -> np.ndarray:
    """One line per session (m,): headline, then the traits with the largest positive
    contributions (towards "not the owner"); a session with none names its largest
    contribution by magnitude. ``observed`` (m rows) holds the session's trait values."""
    values = attributions.values
    names = attributions.feature_names
    lines = []
    for i, headline in enumerate(headlines):
        order = np.argsort(-values[i], kind="stable")[:TOP_TRAITS]
        chosen = [j for j in order if values[i, j] > 0] or [int(np.abs(values[i]).argmax())]
        parts = [
            _trait(names[j], observed.iloc[i][names[j]], profile[names[j]], values[i, j])
            for j in chosen
        ]
        lines.append(f"{headline}: " + "; ".join(parts))
    return np.array(lines, dtype=object)


def _trait(name: str, value: float, typical: float, contribution: float) -> str:
    if name in SHARES:
        kind = name[3:].upper()
        return f"{kind} share {contribution:+.2f} ({value:.0%} of actions, owner {typical:.0%})"
    unit = unit_of(name)
    suffix = f" {unit}" if unit else ""
    return f"{name} {contribution:+.2f} (median {value:.3g}{suffix}, owner {typical:.3g}{suffix})"
