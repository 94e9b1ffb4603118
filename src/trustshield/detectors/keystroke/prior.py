"""A keystroke prior: everything TrustShield's verifier takes from a background population.

A user's few enrolment typings fix their own profile (centre and spread per feature);
they cannot fix the verifier's settings, which features tell people apart, how everybody
types, or how people drift after enrolling. A :class:`KeystrokePrior` holds those, learned
on a background population of OTHER users by :func:`learn_prior`:

- ``settings``: ``log``, ``clip``, ``min_scale``, ``contrast``, ``drift`` (the
  :class:`~trustshield.detectors.keystroke.KeystrokeVerifier` parameters) and
  ``learn_weights`` (learned feature weights, or all 1);
- ``population``: a :class:`~trustshield.detectors.keystroke.population.PopulationProfile`;
- ``weights``: {feature: weight} or None;
- ``protocol``: the enrolment it was learned for (``n_enrol`` typings, drift measured on the
  next ``n_genuine``, impostors' first ``n_impostor``);
- ``selection``: how the settings were chosen (nested selection, see
  :mod:`trustshield.assess.keystroke_selection`), or None;
- ``source``: what it was learned on (file name, sha256, subject and typing counts), or None.

``prior.verifier()`` is the unfitted verifier; the benchmark and ``trustshield enrol`` both
call it, so what a user is enrolled with is what was measured. ``to_dict`` is plain JSON
(``trustshield auth prior`` stores it signed next to the templates); it holds aggregate
statistics and weights, never a typing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trustshield.detectors.keystroke.population import (
    PopulationProfile,
    learn_population,
    subject_rows,
)
from trustshield.detectors.keystroke.weighted import KeystrokeVerifier, learn_feature_weights
from trustshield.errors import DataError, ModelIntegrityError

FORMAT = "trustshield-keystroke-prior/1"
VERIFIER_SETTINGS = ("log", "clip", "min_scale", "contrast", "drift")
#: the verifier's fixed defaults with learned weights: what a prior holds when nothing chose
DEFAULT_SETTINGS = {
    "log": True,
    "clip": 5.0,
    "min_scale": 0.01,
    "contrast": 0.0,
    "drift": False,
    "learn_weights": True,
}
SETTING_NAMES = tuple(DEFAULT_SETTINGS)


def complete_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` over the defaults; DataError naming any unknown setting."""
    unknown = sorted(set(settings or {}) - set(SETTING_NAMES))
    if unknown:
        raise DataError(
            f"unknown keystroke verifier setting(s) {unknown}; known: {list(SETTING_NAMES)}"
        )
    return {**DEFAULT_SETTINGS, **(settings or {})}


@dataclass(frozen=True)
class KeystrokePrior:
    """Settings, population profile and weights learned on a background (see module)."""

    settings: dict[str, Any]
    population: PopulationProfile
    weights: dict[str, Any] | None
    protocol: dict[str, Any]
    selection: dict[str, Any] | None = None
    source: dict[str, Any] | None = None

    @property
    def features(self) -> tuple[str, ...]:
        return self.population.features

    def verifier(self) -> KeystrokeVerifier:
        """A fresh, unfitted verifier with this prior's settings, population and weights."""
        params = {k: self.settings[k] for k in VERIFIER_SETTINGS}
        return KeystrokeVerifier(weights=self.weights, population=self.population, **params)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "settings": dict(self.settings),
            "population": self.population.to_dict(),
            "weights": None if self.weights is None else dict(self.weights),
            "protocol": dict(self.protocol),
            "selection": self.selection,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> KeystrokePrior:
        if not isinstance(state, Mapping) or state.get("format") != FORMAT:
            raise ModelIntegrityError(f"not a keystroke prior: expected format {FORMAT!r}")
        try:
            settings = complete_settings(state["settings"])
            prior = cls(
                settings,
                PopulationProfile.from_dict(state["population"]),
                None
                if state["weights"] is None
                else {str(k): float(v) for k, v in state["weights"].items()},
                dict(state["protocol"]),
                state.get("selection"),
                state.get("source"),
            )
            prior.verifier()  # the settings must make a verifier
        except (KeyError, TypeError, ValueError, AttributeError, DataError) as exc:
            raise ModelIntegrityError(
                f"keystroke prior state: {type(exc).__name__}: {exc}"
            ) from None
        return prior


def by_subject(
    typings: pd.DataFrame, subjects: Sequence[Any] | np.ndarray
) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows grouped by subject, subjects in order of first appearance, each subject's
    rows in their original order (the order the protocol reads them in)."""
    names = np.asarray(subjects)
    if len(names) != len(typings):
        raise DataError(f"subjects has {len(names)} entries for {len(typings)} typings")
    order = np.concatenate(list(subject_rows(names).values())) if len(names) else np.arange(0)
    return typings.iloc[order].reset_index(drop=True), names[order]


def learn_prior(
    typings: pd.DataFrame,
    subjects: Sequence[Any] | np.ndarray,
    *,
    settings: Mapping[str, Any] | None = None,
    n_enrol: int,
    n_impostor: int,
    n_genuine: int | None = None,
    selection: dict[str, Any] | None = None,
) -> KeystrokePrior:
    """Learn the population profile (and, with ``learn_weights``, the feature weights) of
    the background ``typings`` (m, d) typed by ``subjects`` (m,), for the given settings.
    Rows are taken subject by subject (in order of first appearance, each subject's in file
    order), so a table whose subjects' rows interleave gives the very same prior."""
    settings = complete_settings(settings)
    typings, grouped = by_subject(typings, subjects)
    population = learn_population(
        typings,
        grouped,
        n_enrol=n_enrol,
        n_genuine=n_genuine,
        log=settings["log"],
        min_scale=settings["min_scale"],
    )
    weights = None
    if settings["learn_weights"]:
        weights = learn_feature_weights(
            typings,
            grouped,
            n_enrol=n_enrol,
            n_impostor=n_impostor,
            n_genuine=n_genuine,
            population=population,
            **{k: settings[k] for k in VERIFIER_SETTINGS},
        )
    protocol = {"n_enrol": n_enrol, "n_genuine": n_genuine, "n_impostor": n_impostor}
    return KeystrokePrior(settings, population, weights, protocol, selection)
