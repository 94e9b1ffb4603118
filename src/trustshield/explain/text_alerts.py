"""A text input's per-character attributions as an alert's stored lists.

An alert keeps ``feature_values`` and ``attributions`` as lists of numbers, one per
feature. A model whose one input is a text (a web-request payload, a domain name) is
explained per character, so its alerts keep one entry per character of the text as it
was sent: ``feature_values[i]`` the character's Unicode code point, ``attributions[i]``
its term (base + Σ terms = suspicion). The text and its coloured characters can then
be shown from the alert alone, with no schema of its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

TEXT = "text"  #: the feature type a text model registers its one input with


def as_stored(text: str, terms: Sequence[float]) -> tuple[list[float], list[float]]:
    """(feature_values, attributions) of ``text`` with one term per character."""
    if len(terms) != len(text):
        raise ValueError(f"{len(terms)} character terms for a text of {len(text)} characters")
    return [float(ord(c)) for c in text], [float(t) for t in terms]


def characters_of(
    values: Sequence[float] | None, attributions: Sequence[float] | None
) -> list[tuple[str, float]] | None:
    """[(character, term)] of an alert stored by :func:`as_stored`; None when the lists
    are not one code point and one term per character (e.g. an alert stored before the
    characters were kept, holding the whole text's term only)."""
    if not values or not attributions or len(values) != len(attributions):
        return None
    out = []
    for v, a in zip(values, attributions):
        if not (isinstance(v, int | float) and math.isfinite(v) and v == int(v)):
            return None
        if not 0 <= v <= 0x10FFFF or 0xD800 <= v <= 0xDFFF:  # no lone surrogates: UTF-8 text
            return None
        out.append((chr(int(v)), float(a)))
    return out


def text_view(
    features: Sequence[dict], values: Sequence[float] | None, attributions: Sequence[float] | None
) -> tuple[str, list[tuple[str, float]]] | None:
    """(text, [(character, term)]) of an alert of a text model (its registered features
    one of type :data:`TEXT`) stored by :func:`as_stored`; None for any other alert."""
    if len(features) != 1 or features[0].get("type") != TEXT:
        return None
    chars = characters_of(values, attributions)
    return None if chars is None else ("".join(c for c, _ in chars), chars)
