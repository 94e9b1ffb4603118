"""EDGE: the audit chain's head: one row that seals the last event under a key.

The table ``audit_head`` (seq, hash, mac, key_id) holds exactly one row, moved in the same
transaction as each append::

    mac    = HMAC-SHA256(key, f"{seq}:{hash}")          key: $TRUSTSHIELD_AUDIT_KEY (UTF-8)
    key_id = HMAC-SHA256(key, "trustshield audit key fingerprint")[:16 hex]

``key_id`` is the sealing key's fingerprint: it names the key without revealing it, so a
head sealed under another key is reported as such ("sealed by key fingerprint X, the
current key is Y"). Without a key the mac is a plain ``sha256(f"{seq}:{hash}")`` and
``key_id`` is ``"none"``: then anyone who can write the store can also write the head.

A head is written afresh only for a chain without events. A chain with events whose head
is missing, doubled, unkeyed (when a key is set), sealed by another key or failing its mac
is *unsealed*: :func:`head_problem` says why, appends are refused, and only
``trustshield audit reseal`` (:meth:`~trustshield.store.audit.AuditLog.reseal`) seals it
again, recording what it accepted. Stores written before ``key_id`` existed gain the
column; a head whose mac holds under the current key (or is the plain sha256 of an
unkeyed store) is adopted and its fingerprint filled in.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import asdict, dataclass

from trustshield.store.audit_events import GENESIS

KEY_ENV = "TRUSTSHIELD_AUDIT_KEY"
UNKEYED_ID = "none"
FINGERPRINT_LABEL = b"trustshield audit key fingerprint"
HEAD_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS audit_head (seq BIGINT, hash VARCHAR, mac VARCHAR, key_id VARCHAR)"
)
HEAD_ROWS = "SELECT seq, hash, mac, key_id FROM audit_head"

NO_HEAD = (
    "the chain head (audit_head) holds {rows} rows, expected exactly 1: a head is "
    "never recreated for a chain that has events"
)
MISSING_TAIL = "events after seq {last} are missing: the chain head records seq {head}"
EXTRA_TAIL = "events after seq {head} were added without the chain head"
OTHER_TAIL = "the last event (seq {last}) is not the one the chain head records"
BAD_MAC = (
    "the chain head fails authentication: it was rewritten, or {key_env} differs from "
    "the key it was written with"
)
UNKEYED_HEAD = (
    "the chain head was sealed without a key, but {key_env} is set (fingerprint "
    "{current}): anyone who can write the store could have written that head"
)
KEY_SWAP = (
    "the chain head was sealed by key fingerprint {head}, but the current {key_env} "
    "has fingerprint {current}"
)
KEY_UNSET = "the chain head was sealed by key fingerprint {head}, but {key_env} is not set"

RESEAL_HINT = (
    "review the events with `trustshield audit verify --store {target}`; if you "
    "accept them as genuine, seal the head again with `trustshield audit reseal "
    "--store {target} --accept-through SEQ --accept-hash HASH --reason TEXT` (SEQ "
    "and HASH of the last event, as verify prints them)"
)
SET_KEY_HINT = (
    f"set {KEY_ENV} to the key with fingerprint {{head}}; only when the key was "
    "replaced on purpose: " + RESEAL_HINT
)
#: problems a reseal may settle: the events walk intact, only the head disagrees with them
RESEALABLE = frozenset({"no_head", "tail", "unkeyed", "key_unset", "key_swap", "mac"})


@dataclass(frozen=True)
class Head:
    """One row of ``audit_head``: the sealed last event (``seq``, ``hash``), its ``mac`` and
    the sealing key's fingerprint ``key_id`` (``"none"`` unkeyed, None before fingerprints)."""

    seq: int | None
    hash: str | None
    mac: str | None
    key_id: str | None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class HeadProblem:
    """Why a chain does not hold: ``kind`` (``"event"`` for a changed, missing or misplaced
    event; else one of :data:`RESEALABLE`, the head's problems), the ``first_broken`` seq
    left unvouched for, and the ``reason`` in words."""

    kind: str
    first_broken: int
    reason: str


def audit_key() -> bytes | None:
    """``$TRUSTSHIELD_AUDIT_KEY`` as bytes, or None when unset or blank."""
    value = os.environ.get(KEY_ENV, "")
    return value.encode("utf-8") if value.strip() else None


def key_fingerprint(key: bytes | None) -> str:
    """16 hex characters naming ``key`` without revealing it; ``"none"`` without a key."""
    if key is None:
        return UNKEYED_ID
    return hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]


def head_mac(seq: int, digest: str, key: bytes | None) -> str:
    """The head's authenticator of ``seq:hash`` (HMAC-SHA256 under ``key``, else sha256)."""
    message = f"{int(seq)}:{digest}".encode("utf-8")
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sealed(seq: int, digest: str, key: bytes | None) -> Head:
    """The head sealing event ``seq`` (hash ``digest``) under ``key``."""
    return Head(int(seq), digest, head_mac(seq, digest, key), key_fingerprint(key))


def read_heads(db) -> list[Head]:
    """Every row of ``audit_head`` (none when the table itself is gone)."""
    if not table_exists(db, "audit_head"):
        return []
    return [Head(*row) for row in db.execute(HEAD_ROWS).fetchall()]


def write_head(db, head: Head) -> None:
    """Replace whatever ``audit_head`` holds by ``head`` (inside the caller's transaction)."""
    db.execute("DELETE FROM audit_head")
    db.execute(
        "INSERT INTO audit_head (seq, hash, mac, key_id) VALUES (?, ?, ?, ?)",
        [head.seq, head.hash, head.mac, head.key_id],
    )


def prepare(db, has_events) -> None:
    """Create or migrate ``audit_head`` when a store is opened: a chain without events and
    without a head gets a fresh head; a head from before fingerprints whose mac holds gets
    its ``key_id``. A chain with events never gets a new head here. ``has_events()`` says
    whether any event is stored."""
    ensure_table(db)
    heads = read_heads(db)
    if len(heads) == 1 and heads[0].key_id is not None:
        return
    key = audit_key()
    db.execute("BEGIN TRANSACTION")
    try:
        if getattr(db, "dialect", "") == "postgres":  # two first openings: one head
            db.execute("LOCK TABLE audit_head IN SHARE ROW EXCLUSIVE MODE")
        heads = read_heads(db)
        if not heads and not has_events():
            write_head(db, sealed(0, GENESIS, key))
        elif len(heads) == 1 and heads[0].key_id is None:
            adopted = _adopted_key_id(heads[0], key)
            if adopted is not None:
                db.execute("UPDATE audit_head SET key_id = ?", [adopted])
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def ensure_table(db) -> None:
    """``audit_head`` exists with its ``key_id`` column (added to heads from before it)."""
    db.execute(HEAD_SCHEMA)
    if "key_id" not in db.columns("audit_head"):
        db.execute("ALTER TABLE audit_head ADD COLUMN key_id VARCHAR")


def _adopted_key_id(head: Head, key: bytes | None) -> str | None:
    """The fingerprint of the key whose mac ``head`` carries (the current key, or none),
    or None when it carries neither."""
    if head.seq is None or head.hash is None:
        return None
    for candidate in ([key] if key is not None else []) + [None]:
        if hmac.compare_digest(str(head.mac), head_mac(head.seq, head.hash, candidate)):
            return key_fingerprint(candidate)
    return None


def head_problem(
    heads: list[Head], last: int, last_hash: str, key: bytes | None
) -> HeadProblem | None:
    """Why ``heads`` does not seal a chain ending at ``last`` (``last_hash``) under ``key``;
    None when it does."""
    if len(heads) != 1:
        return HeadProblem("no_head", max(last, 1), NO_HEAD.format(rows=len(heads)))
    head = heads[0]
    if head.seq is None or head.seq > last:
        return HeadProblem("tail", last + 1, MISSING_TAIL.format(last=last, head=head.seq))
    if head.seq < last:
        return HeadProblem("tail", head.seq + 1, EXTRA_TAIL.format(head=head.seq))
    if head.hash != last_hash:
        return HeadProblem("tail", max(last, 1), OTHER_TAIL.format(last=last))
    return seal_problem(head, key, first_broken=max(last, 1))


def seal_problem(head: Head, key: bytes | None, *, first_broken: int) -> HeadProblem | None:
    """Why ``head`` is not sealed under ``key`` (its fingerprint, then its mac); None when
    it is. A head from before fingerprints (``key_id`` None) is judged by its mac."""
    if head.seq is None or head.hash is None:
        return HeadProblem("mac", first_broken, BAD_MAC.format(key_env=KEY_ENV))
    current = key_fingerprint(key)
    keyed_mac = hmac.compare_digest(str(head.mac), head_mac(head.seq, head.hash, key))
    sealed_by = head.key_id
    if (
        sealed_by is None
        and key is not None
        and not keyed_mac
        and _adopted_key_id(head, None) == UNKEYED_ID
    ):
        sealed_by = UNKEYED_ID
    if sealed_by not in (None, current):
        if sealed_by == UNKEYED_ID:
            return HeadProblem(
                "unkeyed", first_broken, UNKEYED_HEAD.format(key_env=KEY_ENV, current=current)
            )
        if key is None:
            return HeadProblem(
                "key_unset", first_broken, KEY_UNSET.format(head=sealed_by, key_env=KEY_ENV)
            )
        return HeadProblem(
            "key_swap",
            first_broken,
            KEY_SWAP.format(head=sealed_by, key_env=KEY_ENV, current=current),
        )
    if not keyed_mac:
        return HeadProblem("mac", first_broken, BAD_MAC.format(key_env=KEY_ENV))
    return None


def remedy(problem: HeadProblem, target: str, heads: list[Head]) -> str:
    """What the operator can do about ``problem`` on the store at ``target``."""
    if problem.kind in ("key_unset", "key_swap"):
        return SET_KEY_HINT.format(head=heads[0].key_id, target=target)
    return RESEAL_HINT.format(target=target)


def table_exists(db, name: str) -> bool:
    return (
        db.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
            " AND table_schema = current_schema()",
            [name],
        ).fetchone()[0]
        > 0
    )
