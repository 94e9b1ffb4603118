"""A limit on failed sign-in attempts, checked before any argon2 work is done.

Every token check that needs argon2 (a token not in the success cache) is charged as a
failure *before* it runs and refunded when it succeeds, so parallel guesses cannot all slip
through before the first one fails. Failures are counted in fixed windows of ``window_s``
seconds per key; an attempt is refused (429, ``retry_after_s`` = seconds until the binding
window ends) when

* the same client has failed ``per_client_token`` times on the same token id: guessing one
  token's secret from one address;
* the client has failed ``per_client`` times on any tokens (or malformed ones): spraying
  many ids from one address;
* the token id has failed ``per_token`` times from all clients together, and *this* client
  has failed on it before in the window: an id under a distributed attack.

There is deliberately no plain per-id lock-out: an attacker who knows a victim's token id
(ids appear in reviews and the audit log) could then lock the victim out. Under the rule
above the owner, who presents the right secret from an address that has not failed on the
id, is always let through, while each attacking address gets one guess at an id under
attack. Requests whose token is already verified (the success cache) never reach this limit.

Pure bookkeeping (no I/O); thread-safe; ``clock`` is injectable. Memory is bounded by
``max_keys`` (least recently used keys are forgotten first).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from trustshield.errors import ConfigError, TrustShieldError

BAD_SETTING = "{name} must be {expected}; got {value!r}"
REFUSED = "too many failed sign-in attempts from this address{scope}; try again in {seconds} s"


class AttemptRefused(TrustShieldError):
    """A token check refused without verifying: ``status`` 429 (too many failures) or 503
    (too many verifications waiting), ``retry_after_s`` seconds to wait, ``reason`` a short
    name for the refusal audit."""

    def __init__(self, message: str, *, status: int, retry_after_s: float, reason: str):
        super().__init__(message)
        self.status, self.retry_after_s, self.reason = status, retry_after_s, reason


@dataclass(frozen=True)
class AttemptLimits:
    """Failures allowed per window of ``window_s`` seconds (see the module docstring)."""

    window_s: float = 300.0
    per_client_token: int = 5
    per_client: int = 20
    per_token: int = 20

    def __post_init__(self):
        if not (
            isinstance(self.window_s, (int, float))
            and math.isfinite(self.window_s)
            and self.window_s > 0
        ):
            raise ConfigError(
                BAD_SETTING.format(name="window_s", expected="seconds > 0", value=self.window_s)
            )
        for name in ("per_client_token", "per_client", "per_token"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(
                    BAD_SETTING.format(name=name, expected="an integer ≥ 1", value=value)
                )


class FailedAttempts:
    """Failure counts per (client, token id), per client and per token id; see the module
    docstring. ``token_id`` is None for malformed tokens (counted for the client only)."""

    def __init__(
        self,
        limits: AttemptLimits = AttemptLimits(),
        clock: Callable[[], float] = time.monotonic,
        *,
        max_keys: int = 100_000,
    ):
        self.limits, self.clock, self.max_keys = limits, clock, max_keys
        self._counts: OrderedDict[Hashable, list[float]] = OrderedDict()  # key → [count, start]
        self._lock = threading.Lock()

    def charge(self, client: str, token_id: str | None) -> None:
        """Count one attempt as failed in advance; AttemptRefused (nothing counted) when a
        limit is reached. Call :meth:`refund` when the attempt succeeds."""
        with self._lock:
            now = self.clock()
            keys = self._keys(client, token_id)
            pair, per_client = (self._count(k, now) for k in keys[:2])
            per_token = self._count(keys[2], now) if len(keys) > 2 else 0
            limits = self.limits
            if pair >= limits.per_client_token:
                self._refuse(keys[0], now, " on this token")
            if per_client >= limits.per_client:
                self._refuse(keys[1], now, "")
            if per_token >= limits.per_token and pair > 0:
                self._refuse(keys[2], now, " on a token under attack")
            for key in keys:
                self._add(key, now, 1)

    def refund(self, client: str, token_id: str | None) -> None:
        """Take back the charge of an attempt that succeeded."""
        with self._lock:
            now = self.clock()
            for key in self._keys(client, token_id):
                self._add(key, now, -1)

    def failures(self, client: str, token_id: str | None = None) -> int:
        """Failures counted in the current window for (client, token_id), or for the client
        when ``token_id`` is None."""
        with self._lock:
            key = ("pair", client, token_id) if token_id else ("client", client)
            return int(self._count(key, self.clock()))

    def _keys(self, client: str, token_id: str | None) -> tuple:
        keys = (("pair", client, token_id), ("client", client))
        return keys + (("token", token_id),) if token_id else keys

    def _count(self, key, now: float) -> float:
        entry = self._counts.get(key)
        if entry is None or now >= entry[1] + self.limits.window_s:
            return 0
        return entry[0]

    def _add(self, key, now: float, delta: int) -> None:
        entry = self._counts.get(key)
        if entry is None or now >= entry[1] + self.limits.window_s:
            if delta < 0:
                return
            entry = self._counts[key] = [0, now]
            while len(self._counts) > self.max_keys:
                self._counts.popitem(last=False)
        self._counts.move_to_end(key)
        entry[0] = max(0, entry[0] + delta)

    def _refuse(self, key, now: float, scope: str):
        wait = max(1.0, self._counts[key][1] + self.limits.window_s - now)
        raise AttemptRefused(
            REFUSED.format(scope=scope, seconds=math.ceil(wait)),
            status=429,
            retry_after_s=wait,
            reason="too many failures",
        )
