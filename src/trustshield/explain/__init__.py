"""Explanations: exact attributions come from detectors; this stage turns them into text."""

from trustshield.explain.rationale import rationale, top_features
from trustshield.explain.reference import NormalReference

__all__ = ["NormalReference", "rationale", "top_features"]
