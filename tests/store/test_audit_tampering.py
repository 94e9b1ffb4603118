"""Tampering with a 1,000-event keyed audit chain always shows, on both databases.

One tampering at a time is applied inside a transaction, the chain is checked and the
transaction rolled back. With ``TRUSTSHIELD_TAMPER_SWEEP=full`` every event i is tampered
with on DuckDB and a seeded sample of 100 events per kind on PostgreSQL (about 8 minutes
on a busy 2-core machine); by default, to keep the store tests quick, the first two, middle
and last two events plus a seeded sample of 10 per kind (5 on PostgreSQL). Kinds: one
field changed (details, actor, action, at, subject, hash), the event deleted, a forged
event inserted before it (what follows renumbered, the forgery linked and hashed
correctly), a forged copy of it appended at the end (linked and hashed correctly), and the
event swapped with its neighbour. Each must be flagged with the right first broken seq.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pytest

from trustshield.store import AlertStore
from trustshield.store.audit import GENESIS, KEY_ENV

N = 1_000
KEY = b"tamper test key"
FULL = os.environ.get("TRUSTSHIELD_TAMPER_SWEEP") == "full"
EDGES = [1, 2, N // 2, N - 1, N]
FIELDS = {
    "details": ("details = ?", ['{"forged":true}']),
    "actor": ("actor = ?", ["mallory"]),
    "action": ("action = ?", ["forged.action"]),
    "at": ('"at" = "at" + INTERVAL \'1 second\'', []),
    "subject": ("subject = ?", ["forged"]),
    "hash": ("hash = ?", [hashlib.sha256(b"forged").hexdigest()]),
}
KINDS = [
    *(f"change {f}" for f in FIELDS),
    "delete",
    "insert before",
    "append copy",
    "swap with neighbour",
]
SHIFT = (
    'UPDATE audit_events AS a SET "at" = b."at", actor = b.actor, action = b.action,'
    " subject = b.subject, details = b.details, prev_hash = b.prev_hash, hash = b.hash"
    " FROM audit_events AS b WHERE b.seq = a.seq - 1 AND a.seq > ?"
)
REPLACE = (
    'UPDATE audit_events SET "at" = ?, actor = ?, action = ?, subject = ?, details = ?,'
    " prev_hash = ?, hash = ? WHERE seq = ?"
)


class Rollback(Exception):
    pass


def chained_hash(prev: str, event: dict) -> str:
    """The documented rule, written out independently of the module."""
    body = {k: event[k] for k in ("seq", "at", "actor", "action", "subject", "details")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev + text).encode("utf-8")).hexdigest()


def forged(events: list[dict], seq: int, prev: str, like: dict) -> list:
    """REPLACE parameters of a forgery at ``seq`` that links to ``prev`` correctly."""
    event = {
        "seq": seq,
        "at": like["at"],
        "actor": "mallory",
        "action": like["action"],
        "subject": like["subject"],
        "details": {**like["details"], "forged": 1},
    }
    return [
        event["at"],
        event["actor"],
        event["action"],
        event["subject"],
        json.dumps(event["details"], sort_keys=True, separators=(",", ":")),
        prev,
        chained_hash(prev, event),
        seq,
    ]


def tampering(kind: str, i: int, events: list[dict]) -> tuple[list, int]:
    """(statements, expected first broken seq) of one tampering at event ``i``."""
    if kind.startswith("change "):
        assignment, params = FIELDS[kind.removeprefix("change ")]
        return [(f"UPDATE audit_events SET {assignment} WHERE seq = ?", [*params, i])], i
    if kind == "delete":
        return [("DELETE FROM audit_events WHERE seq = ?", [i])], i
    prev = events[i - 2]["hash"] if i > 1 else GENESIS
    if kind == "insert before":  # the forgery is consistent; the displaced event is not
        return [
            (
                'INSERT INTO audit_events SELECT seq + 1, "at", actor, action, subject,'
                " details, prev_hash, hash FROM audit_events WHERE seq = ?",
                [N],
            ),
            (SHIFT + " AND a.seq <= ?", [i, N]),
            (REPLACE, forged(events, i, prev, events[i - 1])),
        ], i + 1
    if kind == "append copy":
        return [
            ("INSERT INTO audit_events (seq) VALUES (?)", [N + 1]),
            (REPLACE, forged(events, N + 1, events[-1]["hash"], events[i - 1])),
        ], N + 1
    a = min(i, N - 1)  # swap with the next event (the last one with the one before)
    first, second = events[a - 1], events[a]
    return [(REPLACE, row(second, a)), (REPLACE, row(first, a + 1))], a


def row(event: dict, seq: int) -> list:
    details = json.dumps(event["details"], sort_keys=True, separators=(",", ":"))
    return [
        event["at"],
        event["actor"],
        event["action"],
        event["subject"],
        details,
        event["prev_hash"],
        event["hash"],
        seq,
    ]


def checked(store: AlertStore, statements: list):
    """The chain check with ``statements`` applied, rolled back afterwards."""
    try:
        with store.transaction():
            for sql, params in statements:
                store.db.execute(sql, params)
            check = store.audit.check()
            raise Rollback
    except Rollback:
        return check


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def chain(request, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, KEY.decode())
        if request.param == "duckdb":
            target = tmp_path_factory.mktemp("tamper") / "chain.duckdb"
        else:
            target = request.getfixturevalue("postgres_url")
            with AlertStore(target) as s:
                s.db.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        with AlertStore(target, actor="alice") as store:
            write_chain(store)
            assert store.audit.check().ok
            yield request.param, store, store.audit.events()


def write_chain(store: AlertStore) -> None:
    """N events hashed by the documented rule and the head keyed as documented, written in
    one batch (much quicker than N appends, and a check of the documented formats)."""
    rows, prev, start = [], GENESIS, datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    for seq in range(1, N + 1):
        at = start + timedelta(milliseconds=37 * seq, microseconds=seq)
        event = {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "actor": ["alice", "bob", "carol"][seq % 3],
            "action": f"test.kind{seq % 7}",
            "subject": f"subject-{seq}",
            "details": {"n": seq, "score": seq / 7, "tags": ["a", str(seq % 3)]},
        }
        digest = chained_hash(prev, event)
        rows.append(
            (
                seq,
                at,
                event["actor"],
                event["action"],
                event["subject"],
                json.dumps(event["details"], sort_keys=True, separators=(",", ":")),
                prev,
                digest,
            )
        )
        prev = digest
    names = ["seq", "at", "actor", "action", "subject", "details", "prev_hash", "hash"]
    table = pa.table({name: [r[k] for r in rows] for k, name in enumerate(names)})
    mac = hmac.new(KEY, f"{N}:{prev}".encode(), hashlib.sha256).hexdigest()
    with store.transaction():
        store.db.insert_arrow("audit_events", table)
        store.db.execute("UPDATE audit_head SET seq = ?, hash = ?, mac = ?", [N, prev, mac])


def test_every_tampering_is_flagged_at_the_right_seq(chain):
    backend, store, events = chain
    rng = random.Random(20261127)
    detected, tried, wrong = {}, {}, []
    for kind in KINDS:
        for i in targets(backend, rng):
            tried[kind] = tried.get(kind, 0) + 1
            statements, expected = tampering(kind, i, events)
            check = checked(store, statements)
            detected[kind] = detected.get(kind, 0) + (not check.ok)
            if check.ok or check.first_broken != expected:
                wrong.append((kind, i, expected, check))
    print(
        f"\n{backend}: detected/tried per kind",
        json.dumps({kind: f"{detected[kind]}/{tried[kind]}" for kind in KINDS}),
    )
    assert not wrong[:5] and store.audit.check().ok
    assert detected == tried and len(tried) == len(KINDS)


def targets(backend: str, rng: random.Random) -> list[int]:
    """Which events to tamper with (see the module docstring)."""
    if FULL:
        return list(range(1, N + 1)) if backend == "duckdb" else rng.sample(range(1, N + 1), 100)
    rest = sorted(set(range(1, N + 1)) - set(EDGES))
    return EDGES + rng.sample(rest, 10 if backend == "duckdb" else 5)
