"""Biometric verifier kinds: which verifier, samples reader and prior each one uses.

A verifier models ONE user: ``fit(X_enrol) -> self``, ``suspicion(X) -> (n,)`` (higher =
less like the user), ``explain(X) -> Attributions`` where it is additive, ``to_dict()``
(plain JSON) and the class method ``from_dict(state)``. Each kind names its verifier by
its detector kind in the one registry (:mod:`trustshield.detectors.registry`; e.g.
``"keystroke"``), as a class, or as ``"module:Class"``, and, optionally, a reader
``"module:function"`` that turns a samples file into a DataFrame with one row per sample
(default: :func:`trustshield.ingest.samples.read_feature_table`) and, for a kind whose verifier is
built from a population prior, the prior class ``"module:Class"`` (``from_dict(state)``,
``verifier()``): enrolment then fits ``prior.verifier()``. Built-in kinds are registered
here through :func:`register_verifier`, the same hook a plugin or a test uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from trustshield.detectors.registry import detector_class
from trustshield.errors import ModelIntegrityError

DEFAULT_READER = "trustshield.ingest.samples:read_feature_table"
UNAVAILABLE = (
    "no {what} for verifier kind {kind!r} is available: {target} could not be imported ({error})"
)
UNKNOWN_KIND = "unknown verifier kind {kind!r}; known kinds: {known}"


@dataclass(frozen=True)
class VerifierKind:
    """Where a kind's verifier class and samples reader live (``module:attribute``)."""

    name: str
    verifier: str | type
    reader: str | Callable[..., Any] = DEFAULT_READER
    prior: str | type | None = None


VERIFIERS: dict[str, VerifierKind] = {}


def register_verifier(
    kind: str,
    verifier: str | type,
    *,
    reader: str | Callable[..., Any] = DEFAULT_READER,
    prior: str | type | None = None,
) -> None:
    """Add or replace a kind: ``verifier`` is a registered detector kind, a class or
    ``"module:Class"``."""
    VERIFIERS[kind] = VerifierKind(kind, verifier, reader, prior)


def verifier_class(kind: str) -> type:
    """The verifier class of ``kind``; ModelIntegrityError when it cannot be imported."""
    verifier: type = _resolve(_kind(kind).verifier, kind, "verifier class")
    return verifier


def samples_reader(kind: str) -> Callable[..., Any]:
    """The function reading a samples file for ``kind``: ``reader(path) -> DataFrame``."""
    reader: Callable[..., Any] = _resolve(_kind(kind).reader, kind, "samples reader")
    return reader


def prior_class(kind: str) -> type | None:
    """The prior class of ``kind``, None when its verifier needs no population prior."""
    target = _kind(kind).prior
    return None if target is None else _resolve(target, kind, "prior class")


def _kind(kind: str) -> VerifierKind:
    if kind not in VERIFIERS:
        raise ModelIntegrityError(UNKNOWN_KIND.format(kind=kind, known=sorted(VERIFIERS)))
    return VERIFIERS[kind]


def _resolve(target: str | type | Callable[..., Any], kind: str, what: str) -> Any:
    if not isinstance(target, str):
        return target
    if ":" not in target:
        return detector_class(target)
    module, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelIntegrityError(
            UNAVAILABLE.format(what=what, kind=kind, target=target, error=exc)
        ) from None


register_verifier("keystroke", "keystroke", prior="trustshield.detectors.keystroke:KeystrokePrior")
register_verifier(
    "keystroke-series",
    "keystroke",
    reader="trustshield.ingest.keystroke_series:read_series_samples",
    prior="trustshield.detectors.keystroke:KeystrokePrior",
)
register_verifier("mouse", "mouse")
