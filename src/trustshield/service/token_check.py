"""Verifying API tokens in the running service without letting the slow part hurt others.

An argon2 verification takes ~0.1–0.5 s of CPU on purpose. :class:`TokenCheck` keeps it away
from everything else:

1. a token verified in the last :data:`CACHE_SECONDS` is known by the sha256 of the token
   (never the token) and needs no argon2 at all;
2. otherwise the attempt is charged to :class:`~trustshield.service.attempts.FailedAttempts`
   first, so a client that keeps failing is refused (429) without any argon2 work;
3. the stored hash is read under the store lock, and the lock is released *before* the
   verification, so other requests never wait for someone else's argon2;
4. verifications run in ``concurrency`` threads of their own at a low CPU priority
   (nice :data:`VERIFY_NICENESS`, Linux; argon2's own lane threads inherit it), so a flood of
   them slows itself down rather than everyone else; at most ``queue`` more wait for a turn, beyond that the
   check is refused with 503 at once, so waiting checks never occupy the request threads;
5. unknown ids and malformed tokens are verified against a dummy hash of the same cost
   (:func:`~trustshield.store.tokens.verify_secret`), so timing does not reveal which ids
   exist.

Revocation and roles are read from the store on every request (:meth:`TokenCheck.caller_of`),
so a revoked token stops working at once even while it is in the success cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from trustshield.service.attempts import AttemptRefused, FailedAttempts
from trustshield.store.tokens import BadToken, TokenInfo, dummy_hash, parse_token, verify_secret

log = logging.getLogger("trustshield.service")
CACHE_SECONDS = 300.0
VERIFY_NICENESS = 10  # low CPU priority, yet not starved behind a busy scorer
CACHE_LIMIT = 10_000
BUSY = (
    "too many token checks are waiting; try again in a second (tokens already verified "
    "keep working)"
)


#: the verified caller of one request: the token's id, name and roles (never its secret)
Caller = TokenInfo


class TokenCheck:
    """Verify tokens against the store's token table (see the module docstring).

    ``tokens`` is a :class:`~trustshield.store.tokens.TokenTable`, ``lock`` the lock that
    guards its store, ``attempts`` the failed-attempt limit. ``verify`` (default
    :func:`~trustshield.store.tokens.verify_secret`) is the slow step, replaceable in tests.
    """

    def __init__(
        self,
        tokens,
        lock: threading.RLock,
        attempts: FailedAttempts | None = None,
        *,
        concurrency: int = 1,
        queue: int = 8,
        verify: Callable = verify_secret,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.tokens, self.lock, self.verify, self.clock = tokens, lock, verify, clock
        self.attempts = attempts or FailedAttempts()
        self._admitted = threading.BoundedSemaphore(max(1, concurrency) + max(0, queue))
        self._verifiers = ThreadPoolExecutor(
            max(1, concurrency), "token-verify", initializer=_low_priority
        )
        self._verified: dict[str, tuple[str, float]] = {}
        with lock:  # the first unknown id must not pay for making the dummy hash
            reference = tokens.secret_hashes("").reference_hash
        self._verifiers.submit(dummy_hash, reference)

    def caller(self, token: str, client: str = "local") -> Caller:
        """The caller ``token`` belongs to. BadToken when it is malformed, unknown, wrong or
        revoked; AttemptRefused when ``client`` has failed too often or too many checks wait."""
        digest = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        cached = self._verified.get(digest)
        if cached is None or self.clock() - cached[1] > CACHE_SECONDS:
            token_id = self._verify(token, client)
            if len(self._verified) >= CACHE_LIMIT:
                self._verified.clear()
            self._verified[digest] = cached = (token_id, self.clock())
        return self.caller_of(cached[0])

    def caller_of(self, token_id: str) -> Caller:
        """The token's current name and roles; BadToken when it was revoked meanwhile."""
        with self.lock:
            info: TokenInfo = self.tokens.info(token_id)
        return info

    def _verify(self, token: str, client: str) -> str:
        presented_id = parse_token(token)[0]  # charged whether or not it exists: no oracle
        self.attempts.charge(client, presented_id)
        if not self._admitted.acquire(blocking=False):
            self.attempts.refund(client, presented_id)
            raise AttemptRefused(BUSY, status=503, retry_after_s=1.0, reason="busy")
        try:
            with self.lock:
                lookup = self.tokens.secret_hashes(token)
            ok = self._verifiers.submit(self.verify, lookup).result()  # store lock not held
        finally:
            self._admitted.release()
        if not ok:
            raise BadToken(token_id=lookup.token_id)
        self.attempts.refund(client, presented_id)
        return lookup.token_id


def _low_priority() -> None:
    """Run this thread (and threads it starts) at nice :data:`VERIFY_NICENESS`, where the
    operating system allows it per thread (Linux); otherwise leave it as it is."""
    try:
        niceness = max(VERIFY_NICENESS, os.getpriority(os.PRIO_PROCESS, 0))
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), niceness)
    except (AttributeError, OSError) as error:
        log.warning("token verification keeps its CPU priority: %s", error)
