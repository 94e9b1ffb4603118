"""Who is running TrustShield: the operator's name for audit records, and the roles.

Roles (:data:`ROLES`) are held by API tokens in the store's token table
(:mod:`trustshield.store.tokens`): the service checks them on every request, and the
red-team commands check a red-team token given in :data:`TOKEN_ENV`. A roles file or an
operator name set in the environment is no credential: anyone can write one.

The operator is ``$TRUSTSHIELD_OPERATOR`` when set (service accounts, tests), else the
login name; it names who acted in audit events, and gated commands record the login too.
"""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

from trustshield.errors import ConfigError

ROLES = ("viewer", "analyst", "auditor", "red-team", "admin")
OPERATOR_ENV = "TRUSTSHIELD_OPERATOR"
#: an API token (``tsk_...``) for CLI commands gated by a role; read from the environment,
#: never from an argument, so that it does not show in the process list
TOKEN_ENV = "TRUSTSHIELD_TOKEN"

UNSAFE_FILE = (
    "{path} can be written by other users (mode {mode}); anyone could change "
    "what it holds: run `chmod go-w {path}`"
)


def login_name() -> str:
    """The operating-system login, or ``uid:N`` where the system has no name for it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return f"uid:{os.getuid()}"


def operator_name() -> str:
    return (os.environ.get(OPERATOR_ENV) or "").strip() or login_name()


def presented_token() -> str | None:
    """The token in ``$TRUSTSHIELD_TOKEN`` (surrounding blanks removed), None when unset."""
    return (os.environ.get(TOKEN_ENV) or "").strip() or None


def refuse_if_writable_by_others(path: Path, message: str = UNSAFE_FILE) -> None:
    """ConfigError (``message`` formatted with path and mode) when group or others may
    write ``path``: whoever can edit a file of trust could grant themselves that trust."""
    if os.name != "posix":
        return
    mode = path.stat().st_mode
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise ConfigError(message.format(path=path, mode=oct(stat.S_IMODE(mode))))
