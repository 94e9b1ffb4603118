"""API tokens: shown once, stored only as argon2 hashes, revocable, audited."""

from __future__ import annotations

import pytest

from trustshield.errors import PermissionDenied, StoreError
from trustshield.store import AlertStore
from trustshield.store.tokens import BAD_TOKEN, TokenTable


@pytest.fixture
def tokens(store_target):
    with AlertStore(store_target, actor="admin-cli") as store:
        yield TokenTable(store)


def test_a_created_token_verifies_and_carries_its_roles(tokens):
    token, info = tokens.create("sensor-7", ["analyst", "viewer"])
    token_id = tokens.check_secret(token)
    assert token_id == info.token_id
    assert tokens.info(token_id).roles == {"analyst", "viewer"}


def test_only_an_argon2_hash_of_the_secret_is_stored(tokens):
    token, info = tokens.create("alice", ["viewer"])
    secret = token[len("tsk_0123456789ab_") :]
    rows = tokens.store.db.execute("SELECT * FROM api_tokens").fetchall()
    stored = " ".join(str(cell) for row in rows for cell in row)
    assert secret not in stored and token not in stored
    assert "$argon2id$" in stored
    events = " ".join(str(e) for e in tokens.store.audit.events())
    assert secret not in events


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # wrong secret
        lambda t: "tsk_000000000000_" + t[len("tsk_0123456789ab_") :],  # unknown id
        lambda t: t.replace("tsk_", "tok_"),  # malformed
        lambda t: "",
    ],
)
def test_wrong_unknown_or_malformed_tokens_are_refused(tokens, mangle):
    token, _ = tokens.create("alice", ["viewer"])
    with pytest.raises(PermissionDenied, match=BAD_TOKEN):
        tokens.check_secret(mangle(token))


def test_a_revoked_token_stops_working_and_both_changes_are_audited(tokens):
    token, info = tokens.create("bob", ["admin"])
    tokens.revoke(info.token_id)
    with pytest.raises(PermissionDenied):
        tokens.info(tokens.check_secret(token))
    actions = [(e["action"], e["subject"], e["actor"]) for e in tokens.store.audit.events()]
    assert ("token.create", info.token_id, "admin-cli") in actions
    assert ("token.revoke", info.token_id, "admin-cli") in actions
    with pytest.raises(StoreError, match="already revoked"):
        tokens.revoke(info.token_id)


@pytest.mark.parametrize("name, roles", [("", ["viewer"]), ("x", []), ("x", ["root"])])
def test_bad_names_or_roles_are_refused_and_nothing_is_written(tokens, name, roles):
    with pytest.raises(StoreError):
        tokens.create(name, roles)
    assert tokens.list() == []
    assert tokens.store.audit.events() == []


def test_revoking_a_token_ends_its_dashboard_sessions_in_the_same_audited_change(tokens):
    from trustshield.store.sessions import SessionTable

    _, info = tokens.create("carol", ["viewer"])
    _, other = tokens.create("dave", ["viewer"])
    sessions = SessionTable(tokens.store)
    mine = [sessions.start(info.token_id)[0] for _ in range(2)]
    theirs, _ = sessions.start(other.token_id)
    assert tokens.revoke(info.token_id) == 2
    assert [sessions.find(s) for s in mine] == [None, None] and sessions.find(theirs)
    event = tokens.store.audit.events("token.revoke")[-1]
    assert event["details"] == {"name": "carol", "sessions_ended": 2}
