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
        template.observe(drifted.iloc[start : start + 3], ACCEPT)
    assert template.updates == 10
    assert template.suspicion(drifted).mean() < before  # the profile followed the drift
    assert len(template.samples) == 10  # a moving window of enrolment size
    assert np.allclose(template.samples.to_numpy(), drifted.iloc[20:].to_numpy())


def test_a_template_needs_two_samples():
    with pytest.raises(DataError, match="at least 2"):
        AdaptiveTemplate(KeystrokeVerifier, typist(1, 1))


def test_an_adapted_profile_does_not_add_the_populations_drift_twice():
    """A verifier that moves its enrolment profile by the population's drift refits a
    window of settled typings without that correction: the window moved already."""
    from keystroke_typings import population
    from trustshield.detectors.keystroke import learn_population

    frame = population(n_subjects=6, n_typings=31, seed=2)
    profile = learn_population(frame.drop(columns="Subject"), frame["Subject"], n_enrol=5)
    make = lambda: KeystrokeVerifier(population=profile, drift=True)  # noqa: E731
    enrolment, settled = typist(1, 5), typist(2, 30, scale=0.8)
    template = AdaptiveTemplate(make, enrolment)
    np.testing.assert_allclose(
        template.verifier.centre_, np.median(np.log(enrolment.to_numpy()), axis=0) + profile.shift
    )
    for start in range(0, 30, 3):
        template.observe(settled.iloc[start : start + 3], ACCEPT)
    window = np.log(template.samples.to_numpy())
    np.testing.assert_allclose(template.verifier.centre_, np.median(window, axis=0))
    assert template.verifier.get_params()["contrast"] == make().contrast
