"""RateLimiter: token buckets per key, throttling, bounded memory, thread safety."""

from __future__ import annotations

import math
import threading

import pytest

from trustshield.errors import ConfigError, DataError
from trustshield.service.ratelimit import BAD_COST, BAD_FACTOR, RateLimiter


class FakeClock:
    """A clock the test moves by hand (seconds)."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


def test_a_new_key_may_spend_its_burst_at_once_and_no_more(clock):
    limiter = RateLimiter(rate_per_s=10, burst=50, clock=clock)
    first = limiter.allow("tok-a", cost=30)
    second = limiter.allow("tok-a", cost=20)
    third = limiter.allow("tok-a", cost=1)
    assert (first.allowed, first.remaining) == (True, 20)
    assert (second.allowed, second.remaining) == (True, 0)
    assert not third.allowed
    assert third.retry_after_s == pytest.approx(0.1)  # 1 record at 10 records/s


def test_refused_requests_take_nothing_and_say_how_long_to_wait(clock):
    limiter = RateLimiter(rate_per_s=10, burst=100, clock=clock)
    limiter.allow("tok", cost=100)
    clock.advance(2.0)  # 20 units back
    refused = limiter.allow("tok", cost=50)
    assert not refused.allowed
    assert refused.remaining == pytest.approx(20)
    assert refused.retry_after_s == pytest.approx(3.0)
    clock.advance(refused.retry_after_s)
    assert limiter.allow("tok", cost=50).allowed


def test_refill_never_exceeds_the_burst(clock):
    limiter = RateLimiter(rate_per_s=10, burst=40, clock=clock)
    limiter.allow("tok", cost=40)
    clock.advance(3600)
    assert limiter.allow("tok", cost=0).remaining == pytest.approx(40)


def test_a_batch_larger_than_the_burst_never_passes(clock):
    limiter = RateLimiter(rate_per_s=10, burst=50, clock=clock)
    answer = limiter.allow("tok", cost=51)
    assert not answer.allowed and math.isinf(answer.retry_after_s)
    assert limiter.allow("tok", cost=50).allowed  # nothing was taken


def test_keys_have_separate_buckets(clock):
    limiter = RateLimiter(rate_per_s=1, burst=10, clock=clock)
    assert limiter.allow("a", cost=10).allowed
    assert not limiter.allow("a", cost=1).allowed
    assert limiter.allow("b", cost=10).allowed


def test_throttle_slows_refill_until_it_ends(clock):
    limiter = RateLimiter(rate_per_s=10, burst=100, clock=clock)
    limiter.allow("tok", cost=100)
    limiter.throttle("tok", factor=0.1, until=clock.now + 10)
    clock.advance(5)  # 5 s at 1 unit/s
    assert limiter.allow("tok", cost=0).remaining == pytest.approx(5)
    clock.advance(10)  # 5 s at 1/s, then 5 s at 10/s
    assert limiter.allow("tok", cost=0).remaining == pytest.approx(5 + 5 + 50)
    assert not limiter.throttled("tok")


def test_throttle_cuts_saved_units_and_the_wait_spans_its_end(clock):
    limiter = RateLimiter(rate_per_s=10, burst=100, clock=clock)
    limiter.throttle("tok", factor=0.0, until=clock.now + 4)
    assert limiter.throttled("tok")
    answer = limiter.allow("tok", cost=30)
    assert (answer.allowed, answer.remaining) == (False, 0)
    assert answer.retry_after_s == pytest.approx(4 + 3)  # nothing for 4 s, then 3 s at 10/s
    clock.advance(answer.retry_after_s)
    assert limiter.allow("tok", cost=30).allowed


def test_a_throttle_without_an_end_lasts_until_lifted(clock):
    limiter = RateLimiter(rate_per_s=100, burst=100, clock=clock)
    limiter.throttle("tok", factor=0.01)  # 1 unit/s
    clock.advance(1e6)
    assert limiter.throttled("tok")
    limiter.allow("tok", cost=100)
    clock.advance(10)
    assert limiter.allow("tok", cost=0).remaining == pytest.approx(10)
    limiter.throttle("tok", factor=1.0, until=0.0)  # lifted
    clock.advance(0.5)
    assert not limiter.throttled("tok")
    assert limiter.allow("tok", cost=0).remaining == pytest.approx(60)


def test_idle_keys_are_forgotten_but_throttled_keys_are_kept(clock):
    limiter = RateLimiter(rate_per_s=10, burst=10, clock=clock)  # full again after 1 s
    for key in ("a", "b", "c"):
        limiter.allow(key, cost=5)
    limiter.throttle("b", factor=0.5, until=clock.now + 60)
    clock.advance(2)
    limiter.allow("d")
    assert len(limiter) == 2 and limiter.throttled("b")


def test_memory_is_capped_by_max_keys_dropping_the_least_recently_used(clock):
    limiter = RateLimiter(rate_per_s=1, burst=10, clock=clock, max_keys=3)
    for key in ("a", "b", "c"):
        limiter.allow(key, cost=10)
    limiter.allow("a", cost=0)  # "b" is now the least recently used
    limiter.allow("d", cost=10)
    assert len(limiter) == 3
    assert not limiter.allow("a", cost=1).allowed  # remembered: still empty
    assert limiter.allow("b", cost=10).allowed  # forgotten: a fresh bucket


def test_concurrent_requests_never_overspend(clock):
    limiter = RateLimiter(rate_per_s=1e-9, burst=1000, clock=clock)
    granted = []

    def spend():
        granted.append(sum(limiter.allow("tok", cost=1).allowed for _ in range(500)))

    threads = [threading.Thread(target=spend) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 1000


@pytest.mark.parametrize("cost", [-1, math.nan, math.inf, "3"])
def test_bad_costs_are_refused(clock, cost):
    with pytest.raises(DataError, match="cost must be"):
        RateLimiter(rate_per_s=1, burst=1, clock=clock).allow("tok", cost=cost)
    assert BAD_COST.startswith("cost must be")


@pytest.mark.parametrize("rate, burst", [(0, 1), (1, -1), (math.inf, 1), (1, math.nan)])
def test_bad_settings_are_refused(rate, burst):
    with pytest.raises(ConfigError, match="must be a finite number"):
        RateLimiter(rate_per_s=rate, burst=burst)


def test_bad_throttle_factor_is_refused(clock):
    with pytest.raises(ConfigError) as caught:
        RateLimiter(rate_per_s=1, burst=1, clock=clock).throttle("tok", factor=2, until=0)
    assert str(caught.value) == BAD_FACTOR.format(value=2)


def test_lifting_a_throttle_restores_the_full_rate_and_bucket(clock):
    limiter = RateLimiter(rate_per_s=10, burst=100, clock=clock)
    limiter.throttle("tok", factor=0.1)
    assert not limiter.allow("tok", cost=50).allowed
    limiter.lift("tok")
    assert not limiter.throttled("tok")
    assert limiter.allow("tok", cost=100).allowed
    clock.advance(1)
    assert limiter.allow("tok", cost=10).allowed  # refilled at the full 10 units/s


def test_reconfiguring_keeps_throttled_keys_at_their_throttled_rate(clock):
    limiter = RateLimiter(rate_per_s=100, burst=1000, clock=clock)
    limiter.allow("free", cost=1000)
    limiter.allow("slow", cost=1000)
    limiter.throttle("slow", factor=0.1)  # 10 units/s
    limiter.configure(rate_per_s=50, burst=200)
    clock.advance(2)
    assert limiter.allow("free", cost=100).allowed  # 2 s at the new 50 units/s
    assert not limiter.allow("slow", cost=21).allowed  # 2 s at 10 units/s: 20
    assert limiter.allow("slow", cost=20).allowed
    clock.advance(3600)
    assert limiter.allow("free", cost=0).remaining == pytest.approx(200)  # the new burst
    with pytest.raises(ConfigError):
        limiter.configure(rate_per_s=0, burst=10)
