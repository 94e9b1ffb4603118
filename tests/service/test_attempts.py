"""The failed-attempt limit and the bounded verification queue, on their own."""

from __future__ import annotations

import threading

import pytest

from trustshield.service.attempts import AttemptLimits, AttemptRefused, FailedAttempts
from trustshield.service.token_check import TokenCheck
from trustshield.store.tokens import BadToken, StoredSecret

GENEROUS = AttemptLimits(per_client_token=10_000, per_client=10_000, per_token=10_000)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_failed_attempts_count_per_pair_per_client_and_protect_the_owner_of_an_attacked_id():
    clock = Clock()
    attempts = FailedAttempts(
        AttemptLimits(window_s=60, per_client_token=3, per_client=5, per_token=4), clock
    )
    for _ in range(3):
        attempts.charge("10.0.0.1", "aaaaaaaaaaaa")
    with pytest.raises(AttemptRefused) as refused:
        attempts.charge("10.0.0.1", "aaaaaaaaaaaa")
    assert refused.value.status == 429 and refused.value.retry_after_s == pytest.approx(60)
    attempts.charge("10.0.0.1", "bbbbbbbbbbbb")
    attempts.charge("10.0.0.1", None)  # malformed: counted for the client
    with pytest.raises(AttemptRefused):  # 5 failures from this client in all
        attempts.charge("10.0.0.1", "cccccccccccc")
    # the id "aaaa…" has 3 failures; one more address fails once: now under attack (4)
    attempts.charge("10.0.0.2", "aaaaaaaaaaaa")
    with pytest.raises(AttemptRefused):  # 10.0.0.2 failed on it before: one guess only
        attempts.charge("10.0.0.2", "aaaaaaaaaaaa")
    attempts.charge("10.0.0.3", "aaaaaaaaaaaa")  # a clean address (the owner) may try
    attempts.refund("10.0.0.3", "aaaaaaaaaaaa")  # ... and succeeded: nothing held against it
    assert attempts.failures("10.0.0.3", "aaaaaaaaaaaa") == 0
    clock.now += 60  # the window closes
    attempts.charge("10.0.0.1", "aaaaaaaaaaaa")
    assert attempts.failures("10.0.0.1") == 1


def test_failed_attempts_forget_the_oldest_keys_beyond_their_bound():
    attempts = FailedAttempts(AttemptLimits(), Clock(), max_keys=50)
    for k in range(1000):
        attempts.charge(f"10.0.{k // 250}.{k % 250}", f"{k:012x}")
    assert len(attempts._counts) <= 50


@pytest.mark.parametrize(
    "field, value",
    [("window_s", 0), ("per_client", 0), ("per_token", 1.5), ("per_client_token", True)],
)
def test_attempt_limits_refuse_nonsense(field, value):
    with pytest.raises(Exception, match=field):
        AttemptLimits(**{field: value})


class StubTokens:
    def secret_hashes(self, token):
        return StoredSecret("aaaaaaaaaaaa", "s", "$argon2id$stub", None)

    def info(self, token_id):
        raise AssertionError("not reached")


def test_too_many_waiting_verifications_are_refused_at_once_with_503():
    release, entered = threading.Event(), threading.Event()

    def slow(lookup):
        entered.set()
        release.wait(10)
        return False

    check = TokenCheck(
        StubTokens(),
        threading.RLock(),
        FailedAttempts(GENEROUS),
        concurrency=1,
        queue=0,
        verify=slow,
    )
    worker = threading.Thread(target=lambda: pytest.raises(BadToken, check.caller, "t", "a"))
    worker.start()
    try:
        assert entered.wait(5)
        with pytest.raises(AttemptRefused) as busy:
            check.caller("t2", "b")
        assert busy.value.status == 503
        assert check.attempts.failures("b") == 0  # a busy refusal is not held against anyone
    finally:
        release.set()
        worker.join(10)


def test_secrets_are_verified_in_a_low_priority_thread():
    import os

    seen = []

    def verify(lookup):
        seen.append(
            (threading.get_ident(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        )
        return True

    check = TokenCheck(StubTokens(), threading.RLock(), FailedAttempts(GENEROUS), verify=verify)
    assert check._verify("tsk_aaaaaaaaaaaa_x", "a") == "aaaaaaaaaaaa"
    [(thread, niceness)] = seen
    assert thread != threading.get_ident() and niceness >= 10
