"""Feature encoders: turn validated records into the numeric matrix detectors read."""

from trustshield.features.encoder import FeatureEncoder

__all__ = ["FeatureEncoder"]
