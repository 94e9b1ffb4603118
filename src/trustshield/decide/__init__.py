"""Decisions: thresholds calibrated on training data, and how they are chosen."""

from trustshield.decide.authentication import AuthPolicy, decide_safely
from trustshield.decide.enrolment import calibrate, calibration_scores
from trustshield.decide.policy import ThresholdPolicy
from trustshield.decide.selection import Selection, held_out_scores, select_operating_points

__all__ = [
    "AuthPolicy",
    "Selection",
    "ThresholdPolicy",
    "calibrate",
    "calibration_scores",
    "decide_safely",
    "held_out_scores",
    "select_operating_points",
]
