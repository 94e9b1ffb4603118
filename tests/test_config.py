"""Operator configuration: roles from YAML, strict about what it accepts."""

from __future__ import annotations

import pytest

from trustshield.config import (CONFIG_ENV, OPERATOR_ENV, ROLES, config_path, load_config,
                                login_name, operator_name, require_role)
from trustshield.errors import ConfigError, PermissionDenied


def write(path, text, mode=0o600):
    path.write_text(text)
    path.chmod(mode)
    return path


def test_roles_are_read_per_operator(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", "roles:\n  alice: [red-team, analyst]\n  bob: [viewer]\n"))
    assert config.found
    assert config.roles_of("alice") == {"red-team", "analyst"}
    assert config.roles_of("carol") == frozenset()
    require_role("red-team", operator="alice", config=config)
    with pytest.raises(PermissionDenied, match=r"'bob' does not hold the 'red-team' role \(holds \['viewer'\]\)"):
        require_role("red-team", operator="bob", config=config)


def test_a_missing_file_grants_nothing_and_says_where_it_looked(tmp_path):
    path = tmp_path / "absent.yaml"
    config = load_config(path)
    assert not config.found and config.roles == {}
    with pytest.raises(PermissionDenied) as refused:
        require_role("red-team", operator="alice", config=config)
    message = str(refused.value)
    assert str(path) in message and CONFIG_ENV in message and "roles: {alice: [red-team]}" in message


@pytest.mark.parametrize("text, expected", [
    ("roles:\n  alice: [red-team, wizard]\n", r"unknown role\(s\) \['wizard'\]; known roles are"),
    ("roles:\n  alice: red-team\n", r"roles.alice: expected a list of role names"),
    ("roles: [alice]\n", r"'roles' must map operator names"),
    ("- alice\n", r"expected a mapping with keys \['roles'\], got list"),
    ("rolez:\n  alice: [red-team]\n", r"unknown key\(s\) \['rolez'\]"),
    ("roles: {alice: [red-team\n", r"not valid YAML"),
])
def test_malformed_files_are_refused_naming_file_and_problem(tmp_path, text, expected):
    path = write(tmp_path / "c.yaml", text)
    with pytest.raises(ConfigError, match=expected) as error:
        load_config(path)
    assert str(path) in str(error.value)


def test_a_file_others_can_write_is_refused(tmp_path):
    path = write(tmp_path / "c.yaml", "roles:\n  mallory: [red-team]\n", mode=0o666)
    with pytest.raises(ConfigError, match="chmod go-w"):
        load_config(path)


def test_an_empty_file_grants_nothing(tmp_path):
    config = load_config(write(tmp_path / "c.yaml", ""))
    assert config.found and config.roles == {}


def test_path_and_operator_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "x.yaml"))
    monkeypatch.setenv(OPERATOR_ENV, " alice ")
    assert config_path() == tmp_path / "x.yaml"
    assert operator_name() == "alice"
    monkeypatch.setenv(OPERATOR_ENV, "   ")
    assert operator_name() == login_name() != ""
    monkeypatch.delenv(CONFIG_ENV)
    assert config_path().name == "trustshield.yaml"


def test_the_roles_are_the_documented_five():
    assert ROLES == ("viewer", "analyst", "auditor", "red-team", "admin")
