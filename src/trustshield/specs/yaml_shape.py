"""Checks on the shape of parsed YAML: a mapping, with no keys outside those allowed.

Shared by the spec loader and the governance catalogue; standard library only, so a loader
that uses them does not load the spec's numeric stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trustshield.errors import SpecError


def need_mapping(raw: Any, where: str, error: type[Exception] = SpecError) -> None:
    """Refuse anything but a YAML mapping, naming where it was found."""
    if not isinstance(raw, Mapping):
        raise error(f"{where}: expected a mapping, got {type(raw).__name__}")


def no_unknown(
    raw: Mapping[str, Any], allowed: set[str], where: str, error: type[Exception] = SpecError
) -> None:
    """Refuse keys outside ``allowed``, naming them and what is allowed."""
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise error(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
