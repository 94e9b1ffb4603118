"""Tools that test TrustShield and code built on it.

``check_detector(detector, X, y)`` (public API) checks a detector against the detector
protocol, as scikit-learn's ``check_estimator`` does for estimators; see
:mod:`trustshield.testing.detector_check`. Nothing heavy is imported with this package:
a helper's module loads when the helper is first used.
"""

from __future__ import annotations

_HELPERS = {"check_detector": "detector_check", "CheckReport": "detector_check",
            "DetectorCheckError": "detector_check"}

__all__ = sorted(_HELPERS)


def __getattr__(name: str):
    if name in _HELPERS:
        from importlib import import_module

        return getattr(import_module(f"{__name__}.{_HELPERS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
