"""EDGE: seal an audit chain's head again, on purpose and on the record.

A chain whose head no longer seals it (see :mod:`trustshield.store.audit_head`) refuses
every append until an operator has reviewed its events and accepts them as they stand.
:func:`reseal` is that act: the operator names the chain's last event (its ``seq`` and its
``hash``, as ``trustshield audit verify`` prints them) and a reason; the head is written
for that event under the current ``$TRUSTSHIELD_AUDIT_KEY`` and an ``audit.reseal`` event
records what was accepted, the problem found, the previous head rows, the new key's
fingerprint, who and why. The reseal is thereby itself the first event the new head seals.

It is refused when the chain holds (nothing to reseal), when an event inside it is changed,
missing or misplaced (a reseal vouches for intact events only: restore a backup), when the
head was sealed by a key and no key is set now (that would drop the key's protection), and
when the named event is not exactly the last one. Key rotation is a reseal under the new
key (the check reports "sealed by key fingerprint X, current key Y"). Someone who can write
the store but lacks the key can at most produce an unkeyed head, which a keyed check
refuses.
"""

from __future__ import annotations

from trustshield.errors import StoreError
from trustshield.store.audit_head import (
    KEY_ENV,
    RESEALABLE,
    UNKEYED_ID,
    audit_key,
    ensure_table,
    key_fingerprint,
    read_heads,
    sealed,
    write_head,
)

NO_REASON = (
    "a reseal needs a reason: pass --reason TEXT saying why the chain as it stands "
    "is accepted (for example, what the review of its events found)"
)
INTACT = (
    "the audit chain of {target} holds ({events} events, sealed under key fingerprint "
    "{key_id}): there is nothing to reseal"
)
BROKEN = (
    "the audit chain of {target} is broken inside its events (event {seq}: {reason}); "
    "a reseal seals the head over intact events only and cannot vouch for changed "
    "ones: restore the store from a backup"
)
KEYLESS = (
    "the chain head was sealed by key fingerprint {head}, but {key_env} is not set: "
    "set it (a reseal without it would drop the key's protection)"
)
MISMATCH = (
    "--accept-through {seq} --accept-hash {digest} does not name the last event of "
    "the chain (its last event is seq {last}): a reseal accepts the chain up to its "
    "last event; copy both from `trustshield audit verify --store {target}`"
)


def reseal(store, *, accept_through: int, accept_hash: str, reason: str, login: str) -> dict:
    """Seal the head of ``store``'s chain (an :class:`~trustshield.store.AlertStore`) over
    its last event ``accept_through`` with hash ``accept_hash``, in one transaction with the
    ``audit.reseal`` event (by ``store.actor``; ``login`` is the OS login); return that
    event. StoreError, nothing written, on any refusal listed in the module docstring."""
    audit, target = store.audit, store.db.target
    if not (reason or "").strip():
        raise StoreError(NO_REASON)
    with store.transaction():
        ensure_table(store.db)
        if store.db.dialect == "postgres":  # no append or second reseal meanwhile
            store.db.execute("LOCK TABLE audit_events, audit_head IN EXCLUSIVE MODE")
        check = audit.check()
        if check.ok:
            raise StoreError(
                INTACT.format(target=target, events=check.events, key_id=check.head_key_fingerprint)
            )
        if check.problem not in RESEALABLE:
            raise StoreError(
                BROKEN.format(target=target, seq=check.first_broken, reason=check.reason)
            )
        previous = read_heads(store.db)
        key = audit_key()
        keyed_by = [h.key_id for h in previous if h.key_id not in (None, UNKEYED_ID)]
        if key is None and keyed_by:
            raise StoreError(KEYLESS.format(head=keyed_by[0], key_env=KEY_ENV))
        if (accept_through, accept_hash.strip().lower()) != (check.last_seq, check.last_hash):
            raise StoreError(
                MISMATCH.format(
                    seq=accept_through, digest=accept_hash, last=check.last_seq, target=target
                )
            )
        write_head(store.db, sealed(check.last_seq, check.last_hash, key))
        return store.record_event(
            "audit.reseal",
            str(check.last_seq),
            {
                "accepted_through": check.last_seq,
                "accepted_hash": check.last_hash,
                "reason": reason.strip(),
                "problem": check.reason,
                "previous_head": [head.as_dict() for head in previous],
                "key_id": key_fingerprint(key),
                "login": login,
            },
        )
