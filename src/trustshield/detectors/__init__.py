"""Detectors: every one scores records with suspicion (higher = more suspicious).

Every built-in kind is in the one registry (:mod:`trustshield.detectors.registry`):
``gbdt``, ``prototype``, ``hybrid``, ``mouse``, ``keystroke`` and the keystroke baselines
(``keystroke-*``). The names below load on first use, so importing a light detectors
module (for example :mod:`trustshield.detectors.verifiers`) loads no ML library.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names for type checkers; at run time __getattr__ loads them
    from trustshield.detectors.gbdt import GradientBoostedDetector
    from trustshield.detectors.hybrid import HybridDetector
    from trustshield.detectors.params import clone
    from trustshield.detectors.protocol import Attributions, Composite, Detector
    from trustshield.detectors.prototype import NormalPrototypeDetector
    from trustshield.detectors.registry import (
        describe,
        detector_class,
        detector_from_dict,
        kinds,
        register,
    )

__all__ = [
    "Attributions",
    "Composite",
    "Detector",
    "GradientBoostedDetector",
    "HybridDetector",
    "NormalPrototypeDetector",
    "clone",
    "describe",
    "detector_class",
    "detector_from_dict",
    "kinds",
    "register",
]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from trustshield.detectors.gbdt import GradientBoostedDetector
    from trustshield.detectors.hybrid import HybridDetector
    from trustshield.detectors.params import clone
    from trustshield.detectors.protocol import Attributions, Composite, Detector
    from trustshield.detectors.prototype import NormalPrototypeDetector
    from trustshield.detectors.registry import (
        describe,
        detector_class,
        detector_from_dict,
        kinds,
        register,
    )

    globals().update(
        Attributions=Attributions,
        Composite=Composite,
        Detector=Detector,
        GradientBoostedDetector=GradientBoostedDetector,
        HybridDetector=HybridDetector,
        NormalPrototypeDetector=NormalPrototypeDetector,
        clone=clone,
        describe=describe,
        detector_class=detector_class,
        detector_from_dict=detector_from_dict,
        kinds=kinds,
        register=register,
    )
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
