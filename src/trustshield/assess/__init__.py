"""Assessment: turn a run into measured figures and Evidence."""

from trustshield.assess.evidence import performance_evidence
from trustshield.assess.performance import binary_metrics, confusion, detection_by, roc

__all__ = ["binary_metrics", "confusion", "detection_by", "performance_evidence", "roc"]
