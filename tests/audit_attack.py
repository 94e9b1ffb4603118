"""The audit-log rewrite attack, written with plain SQL and the documented rules only, for
the tests of the chain head (store, CLI and service).

Someone who can write the store but does not hold ``$TRUSTSHIELD_AUDIT_KEY`` removes the
events about one subject, edits another, renumbers and re-hashes every event by the
documented rule, and then drops the head table (or writes a head without the key).
"""

from __future__ import annotations

import hashlib
import hmac
import json

from argon2 import PasswordHasher

from trustshield.store import AlertStore
from trustshield.store import tokens as token_table
from trustshield.store.database import connect

GENESIS = "0" * 64
KEY = "the audit key of these tests, not a secret"
OTHER_KEY = "a different audit key, not a secret either"
#: argon2id at its lowest cost, to keep the set-up quick (see tests/service/conftest.py)
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def fingerprint(key: str) -> str:
    """The documented key fingerprint: HMAC-SHA256(key, label), first 16 hex."""
    return hmac.new(key.encode(), b"trustshield audit key fingerprint", hashlib.sha256).hexdigest()[
        :16
    ]


def rule_hash(prev: str, event: dict) -> str:
    """The documented event hash rule."""
    body = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def plain_head_mac(seq: int, digest: str) -> str:
    """The head mac anyone can compute: sha256 of ``seq:hash``."""
    return hashlib.sha256(f"{seq}:{digest}".encode()).hexdigest()


def keyed_history(target, monkeypatch) -> tuple[list[dict], str]:
    """Write real events to the store at ``target`` under :data:`KEY` (set in the
    environment): two tokens created (mallory's and alice's), a setting changed, a model
    registered. Returns (the events, mallory's token id)."""
    from trustshield.store.tokens import TokenTable

    monkeypatch.setenv("TRUSTSHIELD_AUDIT_KEY", KEY)
    monkeypatch.setattr(token_table, "_HASHER", CHEAP_HASHER)
    with AlertStore(target, actor="admin") as store:
        tokens = TokenTable(store)
        _, mallory = tokens.create("mallory", ["red-team"])
        tokens.create("alice", ["analyst"])
        store.record_event("config.change", "retention_days", {"old": None, "new": 30})
        store.record_event("model.register", "m1", {"files": {"model.json": "ab" * 32}})
        return store.audit.events(), mallory.token_id


def rewrite_history(target, events: list[dict], *, hide: str, head: str = "drop") -> list[dict]:
    """The attack on the store at ``target``: remove the events whose subject is ``hide``,
    edit the last one, renumber and re-hash all by the documented rule; then ``head``:
    ``"drop"`` drops the head table, ``"plain"`` writes a head with a plain sha256 mac.
    Returns the rewritten events."""
    kept = [dict(e) for e in events if e["subject"] != hide]
    kept[-1]["details"] = {**kept[-1]["details"], "new": 7}
    prev, rows = GENESIS, []
    for seq, event in enumerate(kept, start=1):
        event.update(seq=seq, prev_hash=prev)
        event["hash"] = prev = rule_hash(prev, event)
        rows.append(
            [
                seq,
                event["at"],
                event["actor"],
                event["action"],
                event["subject"],
                json.dumps(event["details"], sort_keys=True, separators=(",", ":")),
                event["prev_hash"],
                event["hash"],
            ]
        )
    db = connect(target)
    try:
        db.execute("DELETE FROM audit_events")
        db.executemany("INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        if head == "drop":
            db.execute("DROP TABLE audit_head")
        else:
            db.execute(
                "UPDATE audit_head SET seq = ?, hash = ?, mac = ?",
                [len(kept), prev, plain_head_mac(len(kept), prev)],
            )
    finally:
        db.close()
    return kept


def head_rows(target) -> list[tuple]:
    db = connect(target)
    try:
        return db.execute("SELECT * FROM audit_head").fetchall()
    finally:
        db.close()
