"""Detectors: every one scores records with suspicion (higher = more suspicious).

Importing this package registers every built-in kind in the one registry
(:mod:`trustshield.detectors.registry`): ``gbdt``, ``prototype``, ``hybrid``, ``mouse``,
``keystroke`` and the keystroke baselines (``keystroke-*``). ML libraries are imported
when a detector is fitted or loaded, not here.
"""

from trustshield.detectors import keystroke, mouse  # noqa: F401  (registers their kinds)
from trustshield.detectors.gbdt import GradientBoostedDetector
from trustshield.detectors.hybrid import HybridDetector
from trustshield.detectors.params import clone
from trustshield.detectors.protocol import Attributions, Composite, Detector
from trustshield.detectors.prototype import NormalPrototypeDetector
from trustshield.detectors.registry import (describe, detector_class, detector_from_dict, kinds,
                                            register)

__all__ = ["Attributions", "Composite", "Detector", "GradientBoostedDetector",
           "HybridDetector", "NormalPrototypeDetector", "clone", "describe", "detector_class",
           "detector_from_dict", "kinds", "register"]
