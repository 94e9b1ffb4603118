"""Explanations: exact attributions come from detectors; this stage turns them into text."""

from trustshield.explain.rationale import rationales
from trustshield.explain.reference import NormalReference

__all__ = ["NormalReference", "rationales"]
