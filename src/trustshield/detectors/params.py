"""scikit-learn style parameters for detectors, without importing scikit-learn.

A detector's parameters are the keyword arguments of its ``__init__``, each kept
unchanged on an attribute of the same name (scikit-learn's convention, which
``sklearn.base.clone`` checks). :class:`Parameters` gives

- ``get_params(deep=True)``: {name: value}; with ``deep``, a part that has parameters
  itself (a composite's component) adds its own as ``"part__name"``;
- ``set_params(**params)``: sets them (``"part__name"`` reaches into a part) and returns
  the detector; the new values are checked as the constructor checks them, and an unknown
  name is a DataError naming the valid ones.

:func:`clone` is ``sklearn.base.clone`` for detectors: an unfitted copy with the same
parameters, parts cloned too. Learned state (attributes ending in ``_``) is not copied.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Protocol, TypeVar

from trustshield.errors import DataError

_P = TypeVar("_P", bound="HasParams")

UNKNOWN_PARAMETER = "{name} has no parameter {param!r}; valid parameters: {valid}"


class HasParams(Protocol):
    """Anything with scikit-learn style parameters (what :func:`clone` copies)."""

    def get_params(self, deep: bool = True) -> dict[str, Any]: ...


class Parameters:
    """Mixin: ``get_params`` / ``set_params`` from the ``__init__`` signature."""

    @classmethod
    def _param_names(cls) -> tuple[str, ...]:
        signature = inspect.signature(cls.__init__)
        return tuple(
            name
            for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        )

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters by name; ``deep`` adds each part's as ``part__name``."""
        params = {}
        for name in self._param_names():
            value = getattr(self, name)
            params[name] = value
            if deep and hasattr(value, "get_params") and not isinstance(value, type):
                params.update((f"{name}__{k}", v) for k, v in value.get_params(deep=True).items())
        return params

    def set_params(self, **params: Any) -> Parameters:
        """Set parameters (``part__name`` for a part's); returns self. Learned state is
        kept: refit after changing parameters."""
        own: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        valid = self._param_names()
        for key, value in params.items():
            name, _, rest = key.partition("__")
            if name not in valid:
                raise DataError(
                    UNKNOWN_PARAMETER.format(name=type(self).__name__, param=key, valid=list(valid))
                )
            if rest:
                nested.setdefault(name, {})[rest] = value
            else:
                own[name] = value
        if own:  # the constructor checks the new values before any is set
            checked = type(self)(**{**self.get_params(deep=False), **own})
            for name in own:
                setattr(self, name, getattr(checked, name))
        for name, inner in nested.items():
            getattr(self, name).set_params(**inner)
        return self

    def _params_state(self) -> dict[str, Any]:
        """Parameters as plain JSON for ``to_dict`` (tuples as lists)."""
        return {
            name: list(value) if isinstance(value, tuple) else value
            for name, value in self.get_params(deep=False).items()
        }


def clone(detector: _P) -> _P:
    """An unfitted copy of ``detector`` with the same parameters (parts cloned too)."""
    params = {
        name: clone(value)
        if hasattr(value, "get_params") and not isinstance(value, type)
        else copy.deepcopy(value)
        for name, value in detector.get_params(deep=False).items()
    }
    return type(detector)(**params)
