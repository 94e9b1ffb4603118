"""Assessment: turn a run into measured figures and Evidence.

The names below are loaded on first use, so importing an assess module (for example
:mod:`trustshield.assess.robustness.evasion_attacks`) does not load scikit-learn.
"""

__all__ = ["binary_metrics", "confusion", "detection_by", "performance_evidence", "roc"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from trustshield.assess.evidence import performance_evidence
    from trustshield.assess.performance import binary_metrics, confusion, detection_by, roc

    globals().update(
        binary_metrics=binary_metrics,
        confusion=confusion,
        detection_by=detection_by,
        performance_evidence=performance_evidence,
        roc=roc,
    )
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
