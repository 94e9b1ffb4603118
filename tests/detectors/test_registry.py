"""One registry by kind: every detector state finds its class there, verifier kinds name
registered detectors, and a model manifest records the kind the registry knows."""

import pytest

from trustshield.detectors import (
    HybridDetector,
    describe,
    detector_class,
    detector_from_dict,
    kinds,
    register,
)
from trustshield.detectors.keystroke import KeystrokeVerifier, verifier_from_dict
from trustshield.detectors.mouse import MouseVerifier
from trustshield.detectors.verifiers import verifier_class
from trustshield.errors import ModelIntegrityError


def test_every_built_in_family_is_registered_by_kind():
    assert {"gbdt", "prototype", "hybrid", "keystroke", "mouse"} <= set(kinds())
    assert detector_class("hybrid") is HybridDetector and HybridDetector.kind == "hybrid"


def test_an_unknown_kind_names_the_registered_ones():
    with pytest.raises(ModelIntegrityError, match="unknown detector kind 'nonsense'.*'gbdt'"):
        detector_from_dict({"kind": "nonsense"})
    with pytest.raises(ModelIntegrityError, match=r"a \"kind\" field.*got keys \['booster'\]"):
        detector_from_dict({"booster": "..."})
    with pytest.raises(ModelIntegrityError, match="got list"):
        detector_from_dict(["gbdt"])


def test_a_kind_is_registered_once():
    with pytest.raises(
        ValueError,
        match="'gbdt' is already registered to trustshield.detectors.gbdt.GradientBoostedDetector",
    ):
        register("gbdt")(type("Other", (), {}))
    assert register("gbdt")(detector_class("gbdt")) is detector_class("gbdt")  # a reload


def test_verifier_kinds_resolve_through_the_registry():
    assert verifier_class("keystroke") is verifier_class("keystroke-series") is KeystrokeVerifier
    assert verifier_class("mouse") is MouseVerifier


def test_keystroke_loader_refuses_another_kind_of_detector():
    with pytest.raises(ModelIntegrityError, match="kind 'mouse' is not a keystroke verifier"):
        verifier_from_dict(_fitted_mouse_state())


def test_describe_names_a_composite_by_its_parts_kinds():
    from trustshield.detectors import GradientBoostedDetector, NormalPrototypeDetector

    hybrid = HybridDetector(GradientBoostedDetector(), NormalPrototypeDetector())
    assert describe(hybrid) == "hybrid(gbdt, prototype)"
    assert describe(KeystrokeVerifier()) == "keystroke"


def _fitted_mouse_state() -> dict:
    import numpy as np
    import pandas as pd

    from trustshield.features.mouse_actions import FEATURES

    X = pd.DataFrame(
        np.random.default_rng(0).normal(size=(20, len(FEATURES))), columns=list(FEATURES)
    )
    return MouseVerifier().fit(X).to_dict()
