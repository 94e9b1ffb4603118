"""Per-token rate limits for the scoring service: one token bucket per API token.

Each key (an API token id) owns a bucket holding at most ``burst`` units that refills at
``rate_per_s`` units per second. A request costs its number of records (a batch of 100
records costs 100) and passes when the bucket holds at least that much; a refused request
takes nothing from the bucket and is told how long to wait (``retry_after_s``, seconds).
A request larger than ``burst`` can never pass: it is refused with ``retry_after_s = inf``,
so the caller can answer "batch too large" rather than "try later".

:meth:`RateLimiter.throttle` slows one key down (the probing monitor's answer to a token
whose queries look like extraction or evasion search): until clock time ``until`` the key
refills at ``rate_per_s * factor`` (``factor`` is a share of the normal rate, in [0, 1]),
and what it had saved up shrinks by the same factor. :meth:`RateLimiter.lift` ends a
throttle and fills the key's bucket. :meth:`RateLimiter.configure` changes the rate and
burst of every key (the service derives them from the active model's measured capacity);
a throttled key keeps its throttled rate in records per second.

Thread-safe (one lock; the service runs handlers in a thread pool). Memory is bounded: a
key untouched for ``burst / rate_per_s`` seconds has a full bucket again, carries no
information and is forgotten (unless throttled); past ``max_keys`` the least recently used
key is forgotten even so. Times come from ``clock`` (seconds; ``time.monotonic`` by
default, injected in tests).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from trustshield.errors import ConfigError, DataError

BAD_SETTING = "{name} must be a finite number {bound}; got {value!r}"
BAD_COST = "cost must be a finite number ≥ 0 (records in the request); got {value!r}"
BAD_FACTOR = "throttle factor must be in [0, 1] (share of the normal rate); got {value!r}"


@dataclass(frozen=True)
class Allowance:
    """The answer to one request: whether it passes, seconds to wait before the same
    request would pass (0 when allowed, inf when it exceeds the burst), and units left."""

    allowed: bool
    retry_after_s: float
    remaining: float


@dataclass
class _Bucket:
    tokens: float
    at: float  # clock time of the last refill (= last touch)
    factor: float = 1.0  # share of the rate while throttled
    until: float = -math.inf  # clock time the throttle ends


class RateLimiter:
    """Token buckets keyed by token id; see the module docstring for the rules."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        max_keys: int = 100_000,
    ):
        _check_positive("rate_per_s", rate_per_s)
        _check_positive("burst", burst)
        if not isinstance(max_keys, int) or max_keys < 1:
            raise ConfigError(
                BAD_SETTING.format(name="max_keys", bound="(an integer ≥ 1)", value=max_keys)
            )
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Number of keys currently remembered."""
        return len(self._buckets)

    def allow(self, key: Hashable, cost: float = 1.0) -> Allowance:
        """Take ``cost`` units (records) from ``key``'s bucket if it holds them."""
        if not (isinstance(cost, (int, float)) and math.isfinite(cost) and cost >= 0):
            raise DataError(BAD_COST.format(value=cost))
        with self._lock:
            now = self.clock()
            bucket = self._touch(key, now)
            if cost > self.burst:
                return Allowance(False, math.inf, bucket.tokens)
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return Allowance(True, 0.0, bucket.tokens)
            return Allowance(False, self._wait(bucket, cost - bucket.tokens, now), bucket.tokens)

    def throttle(self, key: Hashable, factor: float, until: float = math.inf) -> None:
        """Refill ``key`` at ``factor`` × the rate until clock time ``until`` (by default
        until lifted); its saved-up units are cut by the same factor now. A later throttle
        replaces an earlier one, so ``throttle(key, 1.0, 0.0)`` lifts it."""
        if not (isinstance(factor, (int, float)) and 0 <= factor <= 1):
            raise ConfigError(BAD_FACTOR.format(value=factor))
        with self._lock:
            now = self.clock()
            bucket = self._touch(key, now)
            bucket.tokens *= factor
            bucket.factor, bucket.until = float(factor), float(until)

    def lift(self, key: Hashable) -> None:
        """End ``key``'s throttle now: its bucket is full again and refills at the full rate."""
        with self._lock:
            bucket = self._touch(key, self.clock())
            bucket.tokens, bucket.factor, bucket.until = self.burst, 1.0, -math.inf

    def configure(self, rate_per_s: float, burst: float) -> None:
        """Refill every key at ``rate_per_s`` up to ``burst`` from now on; a throttled key
        keeps its throttled rate (its factor is rescaled, at most 1)."""
        _check_positive("rate_per_s", rate_per_s)
        _check_positive("burst", burst)
        with self._lock:
            now = self.clock()
            for key in list(self._buckets):
                bucket = self._touch(key, now)  # earned at the old rate until now
                bucket.tokens = min(bucket.tokens, float(burst))
                if now < bucket.until:
                    bucket.factor = min(1.0, bucket.factor * self.rate_per_s / rate_per_s)
            self.rate_per_s, self.burst = float(rate_per_s), float(burst)

    def throttled(self, key: Hashable) -> bool:
        """Whether ``key`` is under a throttle now."""
        with self._lock:
            bucket = self._buckets.get(key)
            return bucket is not None and self.clock() < bucket.until

    def _touch(self, key: Hashable, now: float) -> _Bucket:
        """The key's bucket refilled up to ``now`` and marked most recently used."""
        bucket = self._buckets.get(key)
        if bucket is None:
            self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(tokens=self.burst, at=now)
        else:
            self._buckets.move_to_end(key)
            bucket.tokens = min(self.burst, bucket.tokens + self._refill(bucket, now))
            bucket.at = max(bucket.at, now)
        return bucket

    def _refill(self, bucket: _Bucket, now: float) -> float:
        """Units earned between the last touch and ``now``: the throttled rate before
        ``until``, the full rate after."""
        elapsed = max(0.0, now - bucket.at)
        slow = min(elapsed, max(0.0, bucket.until - bucket.at))
        return self.rate_per_s * (bucket.factor * slow + (elapsed - slow))

    def _wait(self, bucket: _Bucket, deficit: float, now: float) -> float:
        """Seconds until ``deficit`` more units have been earned."""
        slow_rate = self.rate_per_s * bucket.factor
        slow_left = max(0.0, bucket.until - now)
        if slow_rate * slow_left >= deficit:
            return deficit / slow_rate
        return slow_left + (deficit - slow_rate * slow_left) / self.rate_per_s

    def _forget_idle(self, now: float) -> None:
        """Drop keys whose buckets are full again (oldest first), then the least recently
        used keys beyond ``max_keys - 1`` so that one more fits."""
        full_after = self.burst / self.rate_per_s
        idle = []
        for key, bucket in self._buckets.items():
            if now - bucket.at < full_after:
                break  # ordered by last touch: every later key is fresher
            if now >= bucket.until:
                idle.append(key)
        for key in idle:
            del self._buckets[key]
        while len(self._buckets) >= self.max_keys:
            self._buckets.popitem(last=False)


def _check_positive(name: str, value) -> None:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(BAD_SETTING.format(name=name, bound="> 0", value=value))
