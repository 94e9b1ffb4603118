"""One-line rationales of mouse verdicts: the traits that departed most, with their exact
contribution, the session's value and the owner's."""

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions
from trustshield.explain.mouse import mouse_rationales, session_traits

NAMES = ("speed_mean", "click_time", "is_dd", "straightness")
PROFILE = {"speed_mean": 300.0, "click_time": 0.09, "is_dd": 0.05, "straightness": 0.8}


def explained(*rows):
    return Attributions(NAMES, np.array(rows, dtype=float), np.zeros(len(rows)))


def test_the_largest_positive_contributions_are_named_in_order_with_values_and_units():
    observed = pd.DataFrame([[812.0, 0.21, 0.25, 0.61]], columns=NAMES)
    line = mouse_rationales(
        headlines=["deny after 23 actions"],
        observed=observed,
        attributions=explained([0.18, 0.31, 0.09, -0.4]),
        profile=PROFILE,
    )[0]
    assert line == (
        "deny after 23 actions: click_time +0.31 (median 0.21 s, owner 0.09 s); "
        "speed_mean +0.18 (median 812 px/s, owner 300 px/s); "
        "DD share +0.09 (25% of actions, owner 5%)"
    )


def test_with_nothing_departing_the_strongest_contribution_is_named():
    observed = pd.DataFrame([[300.0, 0.09, 0.05, 0.8]], columns=NAMES)
    line = mouse_rationales(
        headlines=["accept"],
        observed=observed,
        attributions=explained([-0.1, -0.5, 0.0, -0.2]),
        profile=PROFILE,
    )[0]
    assert line == "accept: click_time -0.50 (median 0.09 s, owner 0.09 s)"


def test_session_traits_summarise_the_first_actions_only():
    actions = pd.DataFrame({"speed_mean": [1.0, 3.0, 100.0, 7.0], "is_dd": [1.0, 0.0, 0.0, 1.0]})
    traits = session_traits(
        actions, sessions=["a", "a", "a", "b"], features=["speed_mean", "is_dd"], n_actions=2
    )
    assert traits.loc["a"].tolist() == [2.0, 0.5] and traits.loc["b"].tolist() == [7.0, 1.0]
