"""Decisions: thresholds calibrated on training data, and how they are chosen."""

from trustshield.decide.policy import ThresholdPolicy
from trustshield.decide.selection import Selection, held_out_scores, select_operating_points

__all__ = ["Selection", "ThresholdPolicy", "held_out_scores", "select_operating_points"]
