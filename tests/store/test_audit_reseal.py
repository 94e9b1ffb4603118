"""Sealing an audit chain again is an explicit, audited act that names what it accepts;
the head records the fingerprint of the key that sealed it, so a key swap shows; heads
written before fingerprints are adopted when their mac holds. On both databases."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from audit_attack import KEY, OTHER_KEY, fingerprint, head_rows, keyed_history, rewrite_history
from trustshield.cli import main
from trustshield.errors import StoreError
from trustshield.store import AlertStore
from trustshield.store.audit import KEY_ENV, NO_HEAD, head_mac, key_fingerprint
from trustshield.store.audit_head import BAD_MAC, KEY_SWAP, KEY_UNSET, UNKEYED_HEAD
from trustshield.store.audit_reseal import KEYLESS, reseal
from trustshield.store.database import connect

REASON = "restored events reviewed against the offsite copy"


@pytest.fixture
def history(store_target, monkeypatch):
    events, hidden = keyed_history(store_target, monkeypatch)
    return store_target, events, hidden


def test_reseal_accepts_the_named_last_event_and_is_itself_in_the_chain(history, capsys):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden)
    last = kept[-1]
    command = [
        "audit",
        "reseal",
        "--store",
        str(target),
        "--accept-through",
        str(len(kept)),
        "--accept-hash",
        last["hash"],
        "--reason",
        REASON,
    ]
    assert main(command) == 0
    assert f"recorded as event {len(kept) + 1} (audit.reseal)" in capsys.readouterr().out
    assert main(["audit", "verify", "--store", str(target)]) == 0
    assert f"intact: {len(kept) + 1} events" in capsys.readouterr().out
    with AlertStore(target, actor="reader") as store:
        assert store.audit.check().ok
        event = store.audit.events()[-1]
        assert (event["action"], event["subject"], event["prev_hash"]) == (
            "audit.reseal",
            str(len(kept)),
            last["hash"],
        )
        details = event["details"]
        assert details["accepted_through"] == len(kept) and details["accepted_hash"] == last["hash"]
        assert details["reason"] == REASON and details["previous_head"] == []
        assert details["problem"] == NO_HEAD.format(rows=0)
        assert details["key_id"] == fingerprint(KEY) and details["login"]
        store.record_event("config.change", "after", {})  # appends work again
        assert store.audit.check().ok
    assert main(command) == 1  # a chain that holds is not resealed
    assert "nothing to reseal" in capsys.readouterr().err


@pytest.mark.parametrize(
    "change, message",
    [
        ({"accept_through": "one before"}, "does not name the last event"),
        ({"accept_hash": "0" * 64}, "does not name the last event"),
        ({"reason": "  "}, "needs a reason"),
    ],
)
def test_reseal_refuses_anything_but_the_exact_last_event_and_a_reason(history, change, message):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden)
    arguments = {
        "accept_through": len(kept),
        "accept_hash": kept[-1]["hash"],
        "reason": REASON,
        **change,
    }
    if arguments["accept_through"] == "one before":
        arguments["accept_through"] = len(kept) - 1
    with AlertStore(target, actor="admin") as store:
        with pytest.raises(StoreError, match=message):
            reseal(store, login="root", **arguments)
        assert not store.audit.check().ok and len(store.audit.events()) == len(kept)


def test_reseal_refuses_an_intact_chain_and_one_broken_inside(history):
    target, events, _ = history
    last = events[-1]
    with AlertStore(target, actor="admin") as store:
        with pytest.raises(StoreError, match="nothing to reseal"):
            reseal(
                store,
                accept_through=last["seq"],
                accept_hash=last["hash"],
                reason=REASON,
                login="root",
            )
        store.db.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
        store.db.execute("DELETE FROM audit_head")
        with pytest.raises(StoreError, match=r"broken inside its events \(event 2"):
            reseal(
                store,
                accept_through=last["seq"],
                accept_hash=last["hash"],
                reason=REASON,
                login="root",
            )
        assert store.db.execute("SELECT count(*) FROM audit_head").fetchone()[0] == 0


def test_a_reseal_without_the_key_gives_only_a_head_a_keyed_check_refuses(history, monkeypatch):
    target, events, hidden = history
    kept = rewrite_history(target, events, hide=hidden)
    monkeypatch.delenv(KEY_ENV)
    with AlertStore(target, actor="mallory") as store:
        reseal(
            store,
            accept_through=len(kept),
            accept_hash=kept[-1]["hash"],
            reason="mine now",
            login="mallory",
        )
        assert store.audit.check().ok and not store.audit.check().keyed  # unkeyed: warned
    monkeypatch.setenv(KEY_ENV, KEY)
    with AlertStore(target, actor="auditor") as store:
        check = store.audit.check()
        assert (check.ok, check.problem, check.head_key_fingerprint) == (False, "unkeyed", "none")
        with pytest.raises(StoreError, match="sealed without a key"):
            store.record_event("config.change", "x", {})


# ---------------------------------------------------------------- the key's fingerprint


def test_the_head_records_the_fingerprint_of_its_key(history):
    target, events, _ = history
    [(seq, digest, mac, key_id)] = head_rows(target)
    assert (seq, digest) == (events[-1]["seq"], events[-1]["hash"])
    assert key_id == fingerprint(KEY) == key_fingerprint(KEY.encode()) and KEY not in key_id
    assert mac == hmac.new(KEY.encode(), f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()
    assert key_fingerprint(None) == "none" and fingerprint(OTHER_KEY) != key_id


def test_a_key_swap_shows_with_both_fingerprints_and_rotation_is_a_reseal(
    history, monkeypatch, capsys
):
    target, events, _ = history
    last = events[-1]
    monkeypatch.setenv(KEY_ENV, OTHER_KEY)
    with AlertStore(target, actor="admin") as store:
        check = store.audit.check()
        assert (check.ok, check.problem) == (False, "key_swap")
        assert check.reason == KEY_SWAP.format(
            head=fingerprint(KEY), key_env=KEY_ENV, current=fingerprint(OTHER_KEY)
        )
        assert (check.head_key_fingerprint, check.key_fingerprint) == (
            fingerprint(KEY),
            fingerprint(OTHER_KEY),
        )
        with pytest.raises(StoreError, match=f"sealed by key fingerprint {fingerprint(KEY)}"):
            store.record_event("config.change", "x", {})
    assert main(["audit", "verify", "--store", str(target)]) == 1
    out = capsys.readouterr().out
    assert fingerprint(KEY) in out and fingerprint(OTHER_KEY) in out
    monkeypatch.delenv(KEY_ENV)
    with AlertStore(target, actor="admin") as store:
        assert store.audit.check().reason == KEY_UNSET.format(
            head=fingerprint(KEY), key_env=KEY_ENV
        )
        keyless = KEYLESS.format(head=fingerprint(KEY), key_env=KEY_ENV)
        with pytest.raises(StoreError, match=re.escape(keyless)):
            reseal(
                store,
                accept_through=last["seq"],
                accept_hash=last["hash"],
                reason=REASON,
                login="root",
            )
    monkeypatch.setenv(KEY_ENV, OTHER_KEY)  # rotate on purpose
    with AlertStore(target, actor="admin") as store:
        event = reseal(
            store,
            accept_through=last["seq"],
            accept_hash=last["hash"],
            reason="yearly key rotation",
            login="root",
        )
        assert event["details"]["key_id"] == fingerprint(OTHER_KEY)
        assert [h["key_id"] for h in event["details"]["previous_head"]] == [fingerprint(KEY)]
        assert store.audit.check().ok


# ---------------------------------------------------------------- migration


def old_style_head(target, mac_key: bytes | None) -> None:
    """The head as stores wrote it before fingerprints: (seq, hash, mac), no key_id."""
    db = connect(target)
    try:
        seq, digest = db.execute("SELECT seq, hash FROM audit_head").fetchone()
        db.execute("DROP TABLE audit_head")
        db.execute("CREATE TABLE audit_head (seq BIGINT, hash VARCHAR, mac VARCHAR)")
        db.execute(
            "INSERT INTO audit_head VALUES (?, ?, ?)", [seq, digest, head_mac(seq, digest, mac_key)]
        )
    finally:
        db.close()


def test_an_intact_head_from_before_fingerprints_is_adopted(history):
    target, _, _ = history
    old_style_head(target, KEY.encode())
    with AlertStore(target, actor="admin") as store:
        assert store.audit.check().ok
        store.record_event("config.change", "after", {})
        assert store.audit.check().ok
    assert head_rows(target)[0][3] == fingerprint(KEY)


@pytest.mark.parametrize(
    "mac_key, problem, reason",
    [
        (None, "unkeyed", UNKEYED_HEAD.format(key_env=KEY_ENV, current=fingerprint(KEY))),
        (OTHER_KEY.encode(), "mac", BAD_MAC.format(key_env=KEY_ENV)),
    ],
)
def test_an_old_head_that_fails_under_the_key_is_not_adopted(history, mac_key, problem, reason):
    target, _, _ = history
    old_style_head(target, mac_key)
    with AlertStore(target, actor="admin") as store:
        check = store.audit.check()
        assert (check.ok, check.problem, check.reason) == (False, problem, reason)
        with pytest.raises(StoreError, match="nothing was written"):
            store.record_event("config.change", "x", {})


def test_a_fresh_store_gets_a_head_under_the_key_or_none(store_target, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with AlertStore(store_target) as store:
        check = store.audit.check()
        assert check.ok and check.head_key_fingerprint == "none" and check.events == 0
        store.db.execute("DROP TABLE audit_head")
    monkeypatch.setenv(KEY_ENV, KEY)  # no events yet: nothing to protect, a fresh head
    with AlertStore(store_target) as store:
        check = store.audit.check()
        assert check.ok and check.head_key_fingerprint == fingerprint(KEY)
