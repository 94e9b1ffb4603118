"""EDGE: the audit log, a hash chain with an authenticated head, in the store's database.

Every state change appends one event: who (``actor``), when (``at``, UTC), what
(``action``, e.g. ``detect.run``, ``model.register``, ``redteam.run``), on what
(``subject``) and the particulars (``details``, canonical JSON). Each event's ``hash`` is
the sha256 of the previous event's hash followed by the canonical JSON of the event (the
rule is in :mod:`trustshield.store.audit_events`). Changing, removing or reordering any
stored event breaks the chain from that event on.

A chain alone cannot show that its last events were deleted, or that a forged event was
appended (anyone can compute sha256). So the one-row table ``audit_head`` seals the last
event under ``$TRUSTSHIELD_AUDIT_KEY`` and names the key by its fingerprint; it moves in the
same transaction as each append (see :mod:`trustshield.store.audit_head`). Without a key,
tail tampering is only detectable by someone who does not also rewrite the head, which
:class:`ChainCheck` warns about. Set the key before the first event.

A head is written afresh only for a chain without events. A chain with events whose head is
missing, doubled, unkeyed under a key, sealed by another key or rewritten fails the check,
every append to it is refused (nothing is written), and only ``trustshield audit reseal``
(:func:`trustshield.store.audit_reseal.reseal`: it names the last event it accepts and is
itself audited as ``audit.reseal``) seals it again.

:meth:`AuditLog.check` walks the chain, then compares its end with the head and the head
with its key and mac; :meth:`AuditLog.check_head` does the second part alone (no walk: for
start-up); :meth:`AuditLog.verify` returns just the first broken ``seq``. The caller
appends inside the transaction that makes the change, so the change and its record commit
or roll back together. On PostgreSQL, appends lock the head row, so concurrent writers
queue instead of forking the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from trustshield.errors import AuditChainError
from trustshield.plain_json import canonical, plain
from trustshield.store.audit_events import (
    BAD_HASH,
    BAD_LINK,
    BAD_SEQ,
    GENESIS,
    broken,
    event_hash,
    event_of,
    iso,
)
from trustshield.store.audit_head import (
    BAD_MAC,
    EXTRA_TAIL,
    KEY_ENV,
    MISSING_TAIL,
    NO_HEAD,
    OTHER_TAIL,
    UNKEYED_ID,
    Head,
    HeadProblem,
    audit_key,
    head_mac,
    head_problem,
    key_fingerprint,
    prepare,
    read_heads,
    remedy,
    seal_problem,
    sealed,
    table_exists,
)

__all__ = [
    "BAD_HASH",
    "BAD_LINK",
    "BAD_MAC",
    "BAD_SEQ",
    "EXTRA_TAIL",
    "GENESIS",
    "KEY_ENV",
    "MISSING_TAIL",
    "NO_HEAD",
    "OTHER_TAIL",
    "UNKEYED",
    "AuditLog",
    "ChainCheck",
    "audit_key",
    "event_hash",
    "head_mac",
    "key_fingerprint",
]

FETCH = 250

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    seq BIGINT PRIMARY KEY, "at" TIMESTAMPTZ, actor VARCHAR, action VARCHAR, subject VARCHAR,
    details VARCHAR, prev_hash VARCHAR, hash VARCHAR);
"""
#: ``at`` read as UTC wall time (a plain timestamp converts to Python much faster)
COLUMNS = (
    'seq, ("at" AT TIME ZONE \'UTC\') AS "at", actor, action, subject, details, prev_hash, hash'
)
EVENTS = f"SELECT 1 AS part, {COLUMNS} FROM audit_events"
#: the head rows first (part 0; key_id in the actor column, mac in the details column), then
#: the events: one statement, so one snapshot of both on a busy server
CHAIN = (
    'SELECT 0 AS part, seq, NULL AS "at", key_id AS actor, NULL AS action,'
    " NULL AS subject, mac AS details, NULL AS prev_hash, hash FROM audit_head"
    f" UNION ALL {EVENTS} ORDER BY part, seq"
)

UNKEYED = (
    f"{KEY_ENV} is not set: the chain head is a plain sha256, so deleting the last "
    "events or appending forged ones is only detectable with a key"
)
UNSEALED = "{refusal}: the audit chain of {target} is not sealed: {reason}. To go on, {remedy}"


@dataclass(frozen=True)
class ChainCheck:
    """Outcome of :meth:`AuditLog.check`: ``first_broken`` is the seq of the first event the
    chain cannot vouch for (None when ``ok``), ``reason`` says why and ``remedy`` what can
    be done (None for changed events: only a backup helps); ``problem`` is ``"event"`` (an
    event changed, missing or misplaced) or a head problem (one of
    :data:`~trustshield.store.audit_head.RESEALABLE`). ``keyed`` says whether the head was
    checked with ``$TRUSTSHIELD_AUDIT_KEY``; ``key_fingerprint`` names that key (``"none"``
    without one), ``head_key_fingerprint`` the key that sealed the head (None without a
    single head). ``last_seq`` and ``last_hash`` name the last stored event when the events
    walk intact (what ``audit reseal`` must be told)."""

    ok: bool
    events: int
    first_broken: int | None
    reason: str | None
    keyed: bool
    problem: str | None = None
    remedy: str | None = None
    key_fingerprint: str = UNKEYED_ID
    head_key_fingerprint: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None

    @property
    def warning(self) -> str | None:
        return None if self.keyed else UNKEYED


class AuditLog:
    """Append-only events on one store database; the caller owns the transaction."""

    def __init__(self, db):
        self.db = db
        self.db.execute(SCHEMA)
        prepare(db, lambda: self._last()[0] > 0)

    def append(self, *, actor: str, action: str, subject: str, details: dict) -> dict:
        """Add one event after the last and move the head to it; return the event (with
        ``seq`` and ``hash``). AuditChainError, nothing written, when the head does not seal
        the chain under the current key (missing, doubled, unkeyed, another key, rewritten)."""
        details = plain(details)
        key = audit_key()
        lock = " FOR UPDATE" if getattr(self.db, "dialect", "") == "postgres" else ""
        heads = [
            Head(*row)
            for row in self.db.execute(
                f"SELECT seq, hash, mac, key_id FROM audit_head{lock}"
            ).fetchall()
        ]
        problem = (
            HeadProblem("no_head", 0, NO_HEAD.format(rows=len(heads)))
            if len(heads) != 1
            else seal_problem(heads[0], key, first_broken=0)
        )
        if problem is not None:
            raise AuditChainError(
                UNSEALED.format(
                    refusal="nothing was written",
                    target=self.db.target,
                    reason=problem.reason,
                    remedy=remedy(problem, self.db.target, heads),
                )
            )
        prev, last_seq = heads[0].hash, heads[0].seq
        assert prev is not None and last_seq is not None  # a sealed head has both
        seq, at = last_seq + 1, datetime.now(timezone.utc)
        event: dict[str, Any] = {
            "seq": seq,
            "at": iso(at),
            "actor": str(actor),
            "action": str(action),
            "subject": str(subject),
            "details": details,
        }
        event["prev_hash"], event["hash"] = prev, event_hash(prev, event)
        self.db.execute(
            "INSERT INTO audit_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                seq,
                at,
                event["actor"],
                event["action"],
                event["subject"],
                canonical(details),
                prev,
                event["hash"],
            ],
        )
        head = sealed(seq, event["hash"], key)
        self.db.execute(
            "UPDATE audit_head SET seq = ?, hash = ?, mac = ?, key_id = ?",
            [head.seq, head.hash, head.mac, head.key_id],
        )
        return event

    def events(
        self,
        action: str | None = None,
        *,
        subject: str | None = None,
        after: int = 0,
        limit: int | None = None,
    ) -> list[dict]:
        """Events in order, optionally only one action and/or one subject, only those after
        seq ``after``, at most ``limit`` of them."""
        where: list[str] = ["seq > ?"]
        params: list[object] = [int(after)]
        for column, value in (("action", action), ("subject", subject)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT {COLUMNS} FROM audit_events WHERE " + " AND ".join(where) + " ORDER BY seq"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [event_of(row) for row in self.db.execute(sql, params).fetchall()]

    def check(self) -> ChainCheck:
        """Walk the chain (position, link and hash of every event), then compare its end
        with the head, and the head with its key and mac."""
        key = audit_key()
        result = self.db.execute(
            CHAIN if table_exists(self.db, "audit_head") else f"{EVENTS} ORDER BY seq"
        )
        heads, expected, prev = [], 1, GENESIS
        while rows := result.fetchmany(FETCH):
            for part, *row in rows:
                if part == 0:
                    seq, _, key_id, _, _, mac, _, digest = row
                    heads.append(Head(seq, digest, mac, key_id))
                    continue
                reason = broken(expected, prev, row)
                if reason:  # a gap names the first missing seq
                    first = min(row[0], expected) if row[0] is not None else expected
                    return self._result(
                        key, heads, self._count(), HeadProblem("event", first, reason)
                    )
                expected, prev = expected + 1, row[7]
        return self._judged(key, heads, expected - 1, prev, events=expected - 1)

    def check_head(self) -> ChainCheck:
        """The head against the last stored event, its key and its mac, without walking the
        chain (quick: for start-up; :meth:`check` does both)."""
        last, last_hash = self._last()
        return self._judged(audit_key(), read_heads(self.db), last, last_hash, events=self._count())

    def require_sealed(self, refusal: str) -> None:
        """Return when the head seals the chain (:meth:`check_head`); else AuditChainError
        starting with ``refusal`` (what is not done), naming the problem and the remedy."""
        check = self.check_head()
        if not check.ok:
            raise AuditChainError(
                UNSEALED.format(
                    refusal=refusal, target=self.db.target, reason=check.reason, remedy=check.remedy
                )
            )

    def verify(self) -> int | None:
        """The ``seq`` of the first event the chain cannot vouch for: missing (a gap, a cut
        end), badly linked, changed, past the head, or under a head that does not seal it;
        None when the whole chain holds. :meth:`check` says why."""
        return self.check().first_broken

    def _judged(
        self, key, heads: list[Head], last: int, last_hash: str, *, events: int
    ) -> ChainCheck:
        """The check of a chain whose events walk intact up to ``last`` (``last_hash``)."""
        return self._result(
            key, heads, events, head_problem(heads, last, last_hash, key), last=(last, last_hash)
        )

    def _result(
        self,
        key,
        heads: list[Head],
        events: int,
        problem: HeadProblem | None,
        last: tuple[int, str] | None = None,
    ) -> ChainCheck:
        fix = (
            None
            if problem is None or problem.kind == "event"
            else remedy(problem, self.db.target, heads)
        )
        return ChainCheck(
            problem is None,
            events,
            problem.first_broken if problem else None,
            problem.reason if problem else None,
            key is not None,
            problem.kind if problem else None,
            fix,
            key_fingerprint(key),
            heads[0].key_id if len(heads) == 1 else None,
            *(last or (None, None)),
        )

    def _last(self) -> tuple[int, str]:
        last = self.db.execute(
            "SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (int(last[0]), last[1]) if last else (0, GENESIS)

    def _count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM audit_events").fetchone()[0])
