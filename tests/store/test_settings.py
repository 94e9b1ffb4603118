"""Service settings: checked values, every change audited with old and new value."""

from __future__ import annotations

import pytest

from trustshield.errors import StoreError
from trustshield.store import AlertStore
from trustshield.store.settings import SettingsTable


@pytest.fixture
def settings(store_target):
    with AlertStore(store_target, actor="admin") as store:
        yield SettingsTable(store)


def test_a_change_is_stored_and_audited_once(settings):
    assert settings.set("retention_days", 30) is True
    assert settings.set("retention_days", 30) is False
    assert settings.set("retention_days", 7) is True
    assert settings.get("retention_days") == 7
    changes = [e["details"] for e in settings.store.audit.events("config.change")]
    assert changes == [{"old": None, "new": 30}, {"old": 30, "new": 7}]


@pytest.mark.parametrize(
    "key, value",
    [
        ("retention_days", 0),
        ("retention_days", "7"),
        ("retention_days", True),
        ("pseudonymise", "yes"),
        ("colour", "red"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused(settings, key, value):
    with pytest.raises(StoreError):
        settings.set(key, value)
    assert settings.store.audit.events("config.change") == []
