"""Tools that test TrustShield and code built on it.

``check_detector(detector, X, y)`` (public API) checks a detector against the detector
protocol, as scikit-learn's ``check_estimator`` does for estimators; see
:mod:`trustshield.testing.detector_check`. :mod:`trustshield.testing.fuzz` damages real
input files and checks that a reader answers with a result or a refusal naming the file
(:mod:`trustshield.testing.fuzz_targets` lists TrustShield's readers). Nothing heavy is
imported with this package: a helper's module loads when the helper is first used.
"""

from __future__ import annotations

__all__ = ["CheckReport", "DetectorCheckError", "check_detector"]


def __getattr__(name: str):
    if name in __all__:
        from trustshield.testing import detector_check

        return getattr(detector_check, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
