"""Readable keystroke feature names and the one-line rationale of a verdict."""

import numpy as np
import pandas as pd
import pytest

from keystroke_typings import typist
from trustshield.detectors.keystroke import KeystrokeVerifier
from trustshield.detectors.protocol import Attributions
from trustshield.explain.keystroke import feature_label, keystroke_rationales


@pytest.mark.parametrize(
    "name, label, unit",
    [
        ("Hold e", "hold of 'e'", "ms"),
        ("Hold .", "hold of '.'", "ms"),
        ("Hold Shift.1", "hold of 'Shift' (2nd)", "ms"),
        ("DD ..t", "press-to-press '.'→'t'", "ms"),
        ("DD Shift.Caps", "press-to-press 'Shift'→'Caps'", "ms"),
        ("UD i.e", "flight 'i'→'e'", "ms"),
        ("UD l.Enter", "flight 'l'→'Enter'", "ms"),
        ("Pressure a", "pressure on 'a'", ""),
        ("Size Shift.1", "finger area on 'Shift' (2nd)", ""),
        ("AvH", "average hold", "ms"),
        ("AvA", "average finger area", ""),
        ("session_length", "session_length", ""),
        ("DD nodot", "DD nodot", ""),
    ],
)
def test_feature_labels(name, label, unit):
    assert feature_label(name) == (label, unit)


@pytest.fixture(scope="module")
def verifier():
    return KeystrokeVerifier().fit(typist(1, 25))


def test_rationale_names_the_departing_features_with_typed_and_usual_values(verifier):
    usual = typist(1, 25).median()
    typing = usual.to_frame().T
    typing["Hold e"] = 3 * usual["Hold e"]
    typing["UD i.e"] = 2 * usual["UD i.e"]
    [line] = keystroke_rationales(verifier.explain(typing), typing, verdicts=["deny"])
    assert line.startswith("deny: departs most from your profile on hold of 'e' ")
    assert f"{3 * usual['Hold e']:.0f} ms vs your usual {usual['Hold e']:.0f} ms" in line
    assert f"flight 'i'→'e' {2 * usual['UD i.e']:.0f} ms" in line
    assert line.index("hold of 'e'") < line.index("flight 'i'→'e'")
    assert "pressure" not in line  # features that did not move are not blamed


def test_a_typing_at_the_profile_is_within_usual_variation(verifier):
    typing = typist(1, 25).median().to_frame().T
    [line] = keystroke_rationales(verifier.explain(typing), typing)
    assert line.startswith("within your usual variation on every feature; closest call: ")


def test_one_line_per_typing_and_at_most_three_reasons(verifier):
    typings = typist(9, 4) * 3.0
    lines = keystroke_rationales(verifier.explain(typings), typings, verdicts=["a", "b", "c", "d"])
    assert [line[0] for line in lines] == ["a", "b", "c", "d"]
    assert all(line.count(" vs your usual ") <= 3 for line in lines)


def test_without_a_reference_the_usual_value_is_left_out():
    attributions = Attributions(("Hold e", "Pressure a"), np.array([[2.0, 0.5]]), np.zeros(1))
    typed = pd.DataFrame({"Hold e": [180.0], "Pressure a": [0.41]})
    [line] = keystroke_rationales(attributions, typed)
    assert line == "departs most from your profile on hold of 'e' 180 ms; pressure on 'a' 0.41"
