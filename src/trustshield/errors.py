"""One exception tree for TrustShield.

    TrustShieldError            base: the CLI catches it, prints one line, exits non-zero
    ├── SpecError               a DatasetSpec YAML is malformed or inconsistent
    │   └── CatalogueError      a governance catalogue YAML is malformed, or an id is unknown
    ├── DataError               input data breaks its spec (names file, row, column, value)
    │   └── DatasetMissing      a known data file is absent or its sha256 does not match
    ├── NotFittedError          a model or policy was used before fit
    ├── NotExplainable          explain() on a detector whose score has no exact additive split
    ├── ModelIntegrityError     a model artifact is missing, altered or of the wrong kind
    ├── StoreError              the alert store cannot do what was asked (unknown alert, …)
    │   └── AuditChainError     the audit chain's head does not seal it: nothing is appended
    ├── ConfigError             a configuration (keys, a file of trust) is malformed or unsafe
    ├── RenderError             an outside renderer (Chromium, for the PDF report) is missing,
    │                           failed or ran out of time
    └── PermissionDenied        the caller's token lacks the role an action needs, or declared
                                no purpose, or named a model outside the local registry

Messages say what was expected and what arrived.
"""

from __future__ import annotations

from collections.abc import Iterable


class TrustShieldError(Exception):
    """Base of every error TrustShield raises on purpose."""


class SpecError(TrustShieldError):
    """A DatasetSpec is malformed or inconsistent."""


class CatalogueError(SpecError):
    """A governance catalogue file (frameworks, practices, …) is malformed, or an id is unknown."""


class DataError(TrustShieldError):
    """Input data does not satisfy its DatasetSpec."""


class DatasetMissing(DataError):
    """A known data file is missing or does not match its recorded sha256."""


class NotFittedError(TrustShieldError):
    """A model or policy was used before it was fitted."""


class NotExplainable(TrustShieldError):
    """explain() was asked of a detector whose score is not an exact sum over features."""


class ModelIntegrityError(TrustShieldError):
    """A model artifact is missing, altered, or not what the caller expected."""


class StoreError(TrustShieldError):
    """The alert store cannot do what was asked."""


class AuditChainError(StoreError):
    """The audit chain's head does not seal the chain (missing, unkeyed under a key, sealed
    by another key, rewritten): nothing may be appended until it is resealed."""


class ConfigError(TrustShieldError):
    """A configuration (a key, a file of trust such as the keyring) is malformed or unsafe."""


class RenderError(TrustShieldError):
    """An outside renderer (headless Chromium for ``report.pdf``) is missing, failed or timed out."""


class PermissionDenied(TrustShieldError):
    """The caller's token lacks the role an action requires, or a gated action was refused
    (no declared purpose, a model outside the local registry)."""


NOT_FITTED = "{name} is not fitted yet: call fit(X, y) on training data before {method}()"
WRONG_COLUMNS = "{name} was fitted on columns {expected}; got {got}"


def did_you_mean(word: str, choices: Iterable[object]) -> str:
    """``" (did you mean 'X'?)"`` naming the up to three ``choices`` closest to ``word``
    (difflib's ratio at least 0.6), or ``""`` when none is close: the tail of an error
    message about an unknown name."""
    import difflib

    close = difflib.get_close_matches(word, [str(c) for c in choices], n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"
