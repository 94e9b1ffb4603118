"""Detectors: every one scores records with suspicion (higher = more suspicious).

The detector classes are loaded on first use, so importing a light detectors module (for
example :mod:`trustshield.detectors.verifiers`) does not load LightGBM or scikit-learn.
"""

__all__ = ["Attributions", "Detector", "GradientBoostedDetector", "HybridDetector",
           "NormalPrototypeDetector", "detector_from_dict"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from trustshield.detectors.gbdt import GradientBoostedDetector
    from trustshield.detectors.hybrid import HybridDetector
    from trustshield.detectors.protocol import Attributions, Detector
    from trustshield.detectors.prototype import NormalPrototypeDetector

    globals().update(Attributions=Attributions, Detector=Detector,
                     GradientBoostedDetector=GradientBoostedDetector,
                     HybridDetector=HybridDetector,
                     NormalPrototypeDetector=NormalPrototypeDetector)
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def detector_from_dict(state: dict):
    """Rebuild a detector from its ``to_dict()`` state (plain JSON, never pickle)."""
    from trustshield.detectors.gbdt import GradientBoostedDetector
    from trustshield.detectors.hybrid import HybridDetector
    from trustshield.detectors.prototype import NormalPrototypeDetector
    from trustshield.errors import ModelIntegrityError

    kind = state.get("kind")
    if kind == "gbdt":
        return GradientBoostedDetector.from_dict(state)
    if kind == "prototype":
        return NormalPrototypeDetector.from_dict(state)
    if kind == "hybrid":
        return HybridDetector.from_dict(state)
    raise ModelIntegrityError(f"unknown detector kind {kind!r} in model state")
