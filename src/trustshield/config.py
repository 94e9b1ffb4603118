"""Operator configuration: who is running TrustShield and which roles they hold.

The file is YAML, found at ``$TRUSTSHIELD_CONFIG`` or ``./trustshield.yaml``::

    roles:
      alice: [red-team, analyst]
      bob: [viewer]

Roles are :data:`ROLES`; anything else is a :class:`~trustshield.errors.ConfigError`, as is
a file other users may write to (anyone who can edit it could grant themselves a role).
A missing file grants nobody anything. The operator is ``$TRUSTSHIELD_OPERATOR`` when set
(service accounts, tests), else the login name; audit records keep both.
"""

from __future__ import annotations

import getpass
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from trustshield.errors import ConfigError, PermissionDenied

ROLES = ("viewer", "analyst", "auditor", "red-team", "admin")
DEFAULT_CONFIG = "trustshield.yaml"
CONFIG_ENV = "TRUSTSHIELD_CONFIG"
OPERATOR_ENV = "TRUSTSHIELD_OPERATOR"
KEYS = ("roles",)

UNSAFE_FILE = ("{path} can be written by other users (mode {mode}); anyone could grant "
               "themselves a role: run `chmod go-w {path}`")
GRANT_HINT = "grant it in {path} with `roles: {{{operator}: [{role}]}}`"


@dataclass(frozen=True)
class OperatorConfig:
    """Roles per operator, read from ``path`` (``found`` is False when the file is absent)."""

    path: Path
    found: bool
    roles: dict[str, frozenset[str]] = field(default_factory=dict)

    def roles_of(self, operator: str) -> frozenset[str]:
        return self.roles.get(operator, frozenset())


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def login_name() -> str:
    """The operating-system login, or ``uid:N`` where the system has no name for it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


def operator_name() -> str:
    return (os.environ.get(OPERATOR_ENV) or "").strip() or login_name()


def load_config(path: str | Path | None = None) -> OperatorConfig:
    """Read and check the configuration; a missing file is an empty configuration."""
    path = Path(path) if path is not None else config_path()
    if not path.is_file():
        return OperatorConfig(path, found=False)
    refuse_if_writable_by_others(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML in UTF-8 ({_one_line(exc)})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {list(KEYS)}, "
                          f"got {type(raw).__name__}")
    unknown = sorted(map(str, set(raw) - set(KEYS)))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {unknown}; expected only {list(KEYS)}")
    return OperatorConfig(path, found=True, roles=_roles(path, raw.get("roles") or {}))


def require_role(role: str, *, operator: str, config: OperatorConfig) -> None:
    """Return when ``operator`` holds ``role``; else PermissionDenied saying how to grant it."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {list(ROLES)}")
    hint = GRANT_HINT.format(path=config.path, operator=operator, role=role)
    if not config.found:
        raise PermissionDenied(f"operator {operator!r} does not hold the {role!r} role: no "
                               f"configuration file at {config.path} (set {CONFIG_ENV} to "
                               f"another file, or {hint})")
    held = config.roles_of(operator)
    if role not in held:
        raise PermissionDenied(f"operator {operator!r} does not hold the {role!r} role "
                               f"(holds {sorted(held) or 'none'}); an administrator can {hint}")


def _roles(path: Path, raw) -> dict[str, frozenset[str]]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: 'roles' must map operator names to lists of roles, "
                          f"got {type(raw).__name__}")
    roles = {}
    for operator, names in raw.items():
        if not isinstance(operator, str) or not operator.strip():
            raise ConfigError(f"{path}: roles: operator names must be non-empty text, "
                              f"got {operator!r}")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{path}: roles.{operator}: expected a list of role names "
                              f"such as [analyst], got {names!r}")
        unknown = sorted(set(names) - set(ROLES))
        if unknown:
            raise ConfigError(f"{path}: roles.{operator}: unknown role(s) {unknown}; "
                              f"known roles are {list(ROLES)}")
        roles[operator] = frozenset(names)
    return roles


def refuse_if_writable_by_others(path: Path, message: str = UNSAFE_FILE) -> None:
    """ConfigError (``message`` formatted with path and mode) when group or others may
    write ``path``: whoever can edit a file of trust could grant themselves that trust."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(message.format(path=path, mode=oct(stat.S_IMODE(mode))))


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
