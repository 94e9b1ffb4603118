"""Dashboard sessions in the store: idle and absolute limits, expiry, odd cookies."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from trustshield.store import AlertStore
from trustshield.store.sessions import SessionLimits, SessionTable


@pytest.fixture
def sessions(store_target):
    with AlertStore(store_target, actor="test") as store:
        yield SessionTable(store, SessionLimits(lifetime_s=3600, idle_s=600))


T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


def test_a_session_ends_after_its_idle_time_unless_used(sessions):
    secret, _ = sessions.start("aaaaaaaaaaaa", now=T0)
    assert sessions.find(secret, now=T0 + timedelta(seconds=599)) is not None  # touches it
    assert sessions.find(secret, now=T0 + timedelta(seconds=1100)) is not None
    assert sessions.find(secret, now=T0 + timedelta(seconds=1800)) is None  # 10 min unused


def test_a_session_ends_at_its_absolute_lifetime_even_when_used(sessions):
    secret, session = sessions.start("aaaaaaaaaaaa", now=T0)
    assert session.expires_at == T0 + timedelta(hours=1)
    for minutes in range(5, 60, 5):
        assert sessions.find(secret, now=T0 + timedelta(minutes=minutes)) is not None
    assert sessions.find(secret, now=T0 + timedelta(minutes=60)) is None


def test_expired_sessions_are_deleted_when_the_next_starts_and_that_is_audited(sessions):
    old, _ = sessions.start("aaaaaaaaaaaa", now=T0)
    sessions.start("bbbbbbbbbbbb", now=T0 + timedelta(hours=2))
    assert sessions.count() == 1 and sessions.find(old, now=T0 + timedelta(hours=2)) is None
    expired = sessions.store.audit.events("session.expire")
    assert [e["details"]["deleted"] for e in expired] == [1]


@pytest.mark.parametrize("secret", [None, "", "x" * 10_000, "not-a-session"])
def test_unknown_or_absurd_cookies_find_no_session(sessions, secret):
    assert sessions.find(secret) is None and sessions.end(secret) is None


@pytest.mark.parametrize("field", ["lifetime_s", "idle_s"])
@pytest.mark.parametrize("value", [0, -1, float("inf"), "8h"])
def test_session_limits_refuse_nonsense(field, value):
    with pytest.raises(Exception, match=field):
        SessionLimits(**{field: value})
