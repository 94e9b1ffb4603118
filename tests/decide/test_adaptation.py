"""The adaptive template takes in accepted attempts only and keeps a moving window."""

import numpy as np
import pytest

from keystroke_typings import typist
from trustshield.decide.adaptation import AdaptiveTemplate
from trustshield.detectors.keystroke import KeystrokeVerifier
from trustshield.errors import DataError
from trustshield.records import ACCEPT, DENY, STEP_UP


def test_only_accepted_attempts_reshape_the_profile():
    enrolment, drifted = typist(1, 10), typist(2, 30, scale=0.7)
    template = AdaptiveTemplate(KeystrokeVerifier, enrolment)
    before = template.suspicion(drifted).mean()
    for action in (STEP_UP, DENY):
        template.observe(drifted.iloc[:3], action)
    assert template.updates == 0 and template.suspicion(drifted).mean() == before
    for start in range(0, 30, 3):
        template.observe(drifted.iloc[start:start + 3], ACCEPT)
    assert template.updates == 10
    assert template.suspicion(drifted).mean() < before          # the profile followed the drift
    assert len(template.samples) == 10                           # a moving window of enrolment size
    assert np.allclose(template.samples.to_numpy(), drifted.iloc[20:].to_numpy())


def test_a_template_needs_two_samples():
    with pytest.raises(DataError, match="at least 2"):
        AdaptiveTemplate(KeystrokeVerifier, typist(1, 1))
