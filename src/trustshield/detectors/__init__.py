"""Detectors: every one scores records with suspicion (higher = more suspicious)."""

from trustshield.detectors.gbdt import GradientBoostedDetector
from trustshield.detectors.hybrid import HybridDetector
from trustshield.detectors.protocol import Attributions, Detector
from trustshield.detectors.prototype import NormalPrototypeDetector

__all__ = ["Attributions", "Detector", "GradientBoostedDetector", "HybridDetector",
           "NormalPrototypeDetector", "detector_from_dict"]


def detector_from_dict(state: dict):
    """Rebuild a detector from its ``to_dict()`` state (plain JSON, never pickle)."""
    kind = state.get("kind")
    if kind == "gbdt":
        return GradientBoostedDetector.from_dict(state)
    if kind == "prototype":
        return NormalPrototypeDetector.from_dict(state)
    if kind == "hybrid":
        return HybridDetector.from_dict(state)
    from trustshield.errors import ModelIntegrityError
    raise ModelIntegrityError(f"unknown detector kind {kind!r} in model state")
