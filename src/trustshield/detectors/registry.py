"""The one registry of detector kinds: how a saved detector state finds its class.

Every detector class declares its kind with the :func:`register` decorator; its
``to_dict()`` writes that kind under ``"kind"``, and :func:`detector_from_dict` rebuilds
any detector from such a state (plain JSON, never pickle). The built-in kinds are
registered when the registry is first asked for a kind (their modules are imported then,
so importing the registry stays light); a plugin or a test registers its own class the
same way::

    @register("my-kind")
    class MyDetector(Parameters):
        ...

Kinds are unique: registering a second class under a kind already taken raises
ValueError (re-registering the same class, e.g. on a module reload, is allowed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, cast

from trustshield.errors import ModelIntegrityError

if TYPE_CHECKING:  # the protocol module loads pandas; the registry stays light
    from trustshield.detectors.protocol import Detector

UNKNOWN_KIND = "unknown detector kind {kind!r} in model state; registered kinds: {known}"
NOT_A_STATE = 'a detector state is a JSON object with a "kind" field (one of {known}); got {got}'
TAKEN = "detector kind {kind!r} is already registered to {taken}; cannot register {new}"


class Registrable(Protocol):
    """What the registry needs of a detector class: its kind (set by :func:`register`) and
    the class method that rebuilds a detector from its ``to_dict()`` state."""

    kind: ClassVar[str]

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> Any: ...


_R = TypeVar("_R", bound=type[Registrable])
_CLASSES: dict[str, type[Registrable]] = {}
_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Import the built-in detector modules once: their decorators register their kinds."""
    global _BUILTINS_LOADED
    if not _BUILTINS_LOADED:
        _BUILTINS_LOADED = True
        from trustshield.detectors import (  # noqa: F401
            behaviour,
            domain,
            gbdt,
            hybrid,
            keystroke,
            mouse,
            payload,
            prototype,
        )


def register(kind: str) -> Callable[[_R], _R]:
    """Class decorator: ``cls`` is the detector of ``kind`` (sets ``cls.kind``)."""
    if not isinstance(kind, str) or not kind:
        raise ValueError(f"a detector kind is a non-empty string; got {kind!r}")

    def add(cls: _R) -> _R:
        taken = _CLASSES.get(kind)
        if taken is not None and _qualified(taken) != _qualified(cls):
            raise ValueError(TAKEN.format(kind=kind, taken=_qualified(taken), new=_qualified(cls)))
        cls.kind = kind
        _CLASSES[kind] = cls
        return cls

    return add


def kinds() -> tuple[str, ...]:
    """Every registered kind, sorted."""
    _load_builtins()
    return tuple(sorted(_CLASSES))


def detector_class(kind: str) -> type[Registrable]:
    """The class registered for ``kind``; ModelIntegrityError naming the known kinds."""
    _load_builtins()
    try:
        return _CLASSES[kind]
    except (KeyError, TypeError):
        raise ModelIntegrityError(UNKNOWN_KIND.format(kind=kind, known=list(kinds()))) from None


def detector_from_dict(state: Mapping[str, Any]) -> Detector:
    """Rebuild a detector from its ``to_dict()`` state through the class of its kind."""
    if not isinstance(state, Mapping) or "kind" not in state:
        got = f"keys {sorted(state)[:8]}" if isinstance(state, Mapping) else type(state).__name__
        raise ModelIntegrityError(NOT_A_STATE.format(known=list(kinds()), got=got))
    return cast("Detector", detector_class(state["kind"]).from_dict(dict(state)))


def describe(detector: Detector) -> str:
    """The detector's kind, with its parts' kinds for a composite one, e.g.
    ``"hybrid(gbdt, prototype)"``; what a model manifest records."""
    parts = getattr(detector, "parts", None)
    inner = [describe(part) for part in parts().values()] if callable(parts) else []
    return f"{detector.kind}({', '.join(inner)})" if inner else detector.kind


def _qualified(cls: type[Any]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"
