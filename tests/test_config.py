"""Who is running TrustShield: the operator's name, the token from the environment, the
roles, and the refusal of files of trust that others can write."""

from __future__ import annotations

import pytest

from trustshield.config import (
    OPERATOR_ENV,
    ROLES,
    TOKEN_ENV,
    login_name,
    operator_name,
    presented_token,
    refuse_if_writable_by_others,
)
from trustshield.errors import ConfigError


def test_the_operator_comes_from_the_environment_else_the_login(monkeypatch):
    monkeypatch.setenv(OPERATOR_ENV, " alice ")
    assert operator_name() == "alice"
    monkeypatch.setenv(OPERATOR_ENV, "   ")
    assert operator_name() == login_name() != ""


def test_the_token_is_read_from_the_environment_only(monkeypatch):
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    assert presented_token() is None
    monkeypatch.setenv(TOKEN_ENV, "  \t ")
    assert presented_token() is None
    monkeypatch.setenv(TOKEN_ENV, " tsk_0123456789ab_secret \n")
    assert presented_token() == "tsk_0123456789ab_secret"


def test_a_file_others_can_write_is_refused(tmp_path):
    path = tmp_path / "keyring.json"
    path.write_text("{}")
    path.chmod(0o600)
    refuse_if_writable_by_others(path)
    path.chmod(0o664)
    with pytest.raises(ConfigError, match="mode 0o664.*chmod go-w"):
        refuse_if_writable_by_others(path)


def test_the_roles_are_the_documented_five():
    assert ROLES == ("viewer", "analyst", "auditor", "red-team", "admin")
