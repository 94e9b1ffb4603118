"""Readable keystroke feature names and a one-line rationale per verdict.

"deny: departs most from your profile on hold of 'e' 180 ms vs your usual 95 ms; flight
'i'→'e' 420 ms vs your usual 210 ms; pressure on 'a' 0.41 vs your usual 0.16"

Column names follow the MEU-Mobile KSD / CMU convention: ``Hold k`` (key-down to key-up),
``DD a.b`` (key-down of a to key-down of b), ``UD a.b`` (key-up of a to key-down of b,
the flight), ``Pressure k``, ``Size k`` (finger area), ``AvH`` / ``AvP`` / ``AvA``
(averages); a repeated key carries pandas' ``.1`` suffix (``Shift.1``, the second Shift).
Unknown names are shown as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trustshield.detectors.protocol import Attributions

TOP_REASONS = 3
#: a named feature carries at least this share of the largest positive contribution
MIN_SHARE = 0.1
PER_KEY = {
    "Hold": ("hold of {k}", "ms"),
    "Pressure": ("pressure on {k}", ""),
    "Size": ("finger area on {k}", ""),
}
PER_PAIR = {"DD": ("press-to-press {a}→{b}", "ms"), "UD": ("flight {a}→{b}", "ms")}
AVERAGES = {
    "AvH": ("average hold", "ms"),
    "AvP": ("average pressure", ""),
    "AvA": ("average finger area", ""),
}
ORDINALS = {"1": "2nd", "2": "3rd", "3": "4th"}


def key_text(token: str) -> str:
    """'e' → "'e'"; 'Shift.1' (pandas' second Shift) → "'Shift' (2nd)"."""
    base, dot, suffix = token.rpartition(".")
    if dot and base and suffix in ORDINALS:
        return f"'{base}' ({ORDINALS[suffix]})"
    return f"'{token}'"


def _pair(text: str) -> tuple[str, str] | None:
    """Split 'a.b' into its two keys; the first '.' with a key on both sides wins
    (so '..t' is '.' then 't')."""
    for i, ch in enumerate(text):
        if ch == "." and 0 < i < len(text) - 1:
            return text[:i], text[i + 1 :]
    return None


def feature_label(name: str) -> tuple[str, str]:
    """(readable label, unit) of a keystroke column; unit "" for device-relative values."""
    if name in AVERAGES:
        return AVERAGES[name]
    prefix, _, rest = name.partition(" ")
    if rest and prefix in PER_KEY:
        label, unit = PER_KEY[prefix]
        return label.format(k=key_text(rest)), unit
    pair = _pair(rest) if rest and prefix in PER_PAIR else None
    if pair:
        label, unit = PER_PAIR[prefix]
        return label.format(a=key_text(pair[0]), b=key_text(pair[1])), unit
    return name, ""


def value_text(value: float, unit: str) -> str:
    return f"{value:.0f} {unit}" if unit == "ms" else f"{value:.2f}"


def keystroke_rationales(
    attributions: Attributions,
    X: pd.DataFrame | np.ndarray,
    *,
    verdicts=None,
    top: int = TOP_REASONS,
) -> list[str]:
    """One line per typing: the features that departed most from the user's profile
    (largest positive exact contributions), each with the typed value and the user's usual
    one (``attributions.reference``, when the verifier gives it). A typing with no positive
    contribution is called within the user's usual variation, naming its closest call.
    ``verdicts`` (optional, one string per typing) prefixes each line."""
    names = attributions.feature_names
    values = np.asarray(attributions.values, dtype=float)
    typed = (X[list(names)] if isinstance(X, pd.DataFrame) else pd.DataFrame(X)).to_numpy(float)
    labels = [feature_label(n) for n in names]
    lines = []
    for i, row in enumerate(values):
        order = np.argsort(-row, kind="stable")[:top]
        chosen = [j for j in order if row[j] > 0 and row[j] >= MIN_SHARE * row[order[0]]]
        parts = [
            _reason(labels[j], typed[i, j], attributions.reference, i, j)
            for j in (chosen or order[:1])
        ]
        head = (
            "departs most from your profile on "
            if chosen
            else "within your usual variation on every feature; closest call: "
        )
        prefix = "" if verdicts is None else f"{verdicts[i]}: "
        lines.append(prefix + head + "; ".join(parts))
    return lines


def _reason(label: tuple[str, str], value: float, reference, i: int, j: int) -> str:
    text, unit = label
    shown = f"{text} {value_text(value, unit)}"
    if reference is None or not np.isfinite(reference[i, j]):
        return shown
    return f"{shown} vs your usual {value_text(reference[i, j], unit)}"
