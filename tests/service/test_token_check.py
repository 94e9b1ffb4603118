"""Wrong-secret floods: argon2 runs outside the store lock, costs the same for unknown and
known token ids, and a client that keeps failing is refused (429) without argon2 work,
while other clients' tokens keep working."""

from __future__ import annotations

import statistics
import threading
import time

from argon2 import PasswordHasher, extract_parameters
from conftest import bearer

from trustshield.service import access
from trustshield.store import tokens as token_table

#: argon2id costing ~40 ms: slow enough for timing to show, fast enough for a test
TIMED_HASHER = PasswordHasher(time_cost=1, memory_cost=16384, parallelism=1)


def wrong_secret(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")


def unknown_id(token: str, k: int = 0) -> str:
    return f"tsk_{k:012x}_" + token[len("tsk_0123456789ab_") :]


class Recording:
    """A PasswordHasher stand-in that records the parameters of every hash it verifies,
    and can hold verification until released."""

    def __init__(self, inner: PasswordHasher, *, hold: bool = False):
        self.inner, self.verified = inner, []
        self.entered, self.release = threading.Event(), threading.Event()
        if not hold:
            self.release.set()

    def hash(self, secret):
        return self.inner.hash(secret)

    def verify(self, stored, secret):
        self.verified.append(extract_parameters(stored))
        self.entered.set()
        assert self.release.wait(30), "verification was never released"
        return self.inner.verify(stored, secret)


def test_unknown_ids_and_malformed_tokens_cost_one_verification_like_known_ids(
    service_rig, monkeypatch
):
    recording = Recording(PasswordHasher())
    monkeypatch.setattr(token_table, "_HASHER", recording)
    client, analyst = service_rig.client(), service_rig.tokens["analyst"]
    for presented in (wrong_secret(analyst), unknown_id(analyst), "tsk_malformed", "x" * 300):
        before = len(recording.verified)
        response = client.get("/v1/alerts", headers=bearer(presented))
        assert response.status_code == 401
        assert len(recording.verified) == before + 1, f"{presented[:20]!r}: no argon2 work"
    stored = service_rig.context.tokens.secret_hashes(analyst).stored_hash
    assert all(p == extract_parameters(stored) for p in recording.verified)  # same cost


def test_known_and_unknown_ids_take_the_same_time(service_rig, monkeypatch):
    """Medians of known-id (wrong secret) and unknown-id checks through HTTP differ by less
    than half; before, an unknown id answered without any argon2 work."""
    monkeypatch.setattr(token_table, "_HASHER", TIMED_HASHER)
    with service_rig.context.write("test-setup"):
        victim, _ = service_rig.context.tokens.create("timed", ["viewer"])
    times = {"known": [], "unknown": []}
    for k in range(15):  # each pair from its own address: within the failed-attempt limits
        with service_rig.client(client=(f"198.51.100.{k}", 1000)) as client:
            for kind, token in (
                ("known", wrong_secret(victim)),
                ("unknown", unknown_id(victim, k)),
            ):
                started = time.perf_counter()
                assert client.get("/v1/alerts", headers=bearer(token)).status_code == 401
                times[kind].append(time.perf_counter() - started)
    known, unknown = (statistics.median(times[k]) for k in ("known", "unknown"))
    assert 2 / 3 < known / unknown < 3 / 2, (
        f"known {known * 1e3:.1f} ms, unknown {unknown * 1e3:.1f} ms"
    )


def test_the_store_lock_is_not_held_while_a_secret_is_verified(service_rig, monkeypatch):
    rig = service_rig
    viewer = rig.client()
    assert viewer.get("/v1/alerts", headers=bearer(rig.tokens["viewer"])).status_code == 200
    held = Recording(PasswordHasher(), hold=True)
    monkeypatch.setattr(token_table, "_HASHER", held)
    attacker = threading.Thread(
        target=lambda: rig.client().get(
            "/v1/alerts", headers=bearer(wrong_secret(rig.tokens["analyst"]))
        )
    )
    attacker.start()
    try:
        assert held.entered.wait(10), "the wrong secret never reached verification"
        answers = []
        other = threading.Thread(
            target=lambda: answers.append(
                viewer.get("/v1/alerts", headers=bearer(rig.tokens["viewer"])).status_code
            )
        )
        other.start()
        other.join(5)
        assert answers == [200], "a verified viewer waited for someone else's argon2"
    finally:
        held.release.set()
        attacker.join(30)


def test_a_client_that_keeps_failing_gets_429_without_argon2_and_others_keep_working(
    service_rig, monkeypatch
):
    rig = service_rig
    monkeypatch.setattr(access, "LOCKED_OUT_DELAY_S", 0.25, raising=False)
    limit = 5  # the default failures allowed per client and token id
    attacker = rig.client()
    assert attacker.get("/v1/alerts", headers=bearer(rig.tokens["viewer"])).status_code == 200
    recording = Recording(PasswordHasher())
    monkeypatch.setattr(token_table, "_HASHER", recording)
    wrong = bearer(wrong_secret(rig.tokens["analyst"]))
    answers = [attacker.get("/v1/alerts", headers=wrong) for _ in range(limit + 3)]
    assert [a.status_code for a in answers] == [401] * limit + [429] * 3
    assert all(a.elapsed.total_seconds() >= 0.25 for a in answers[limit:])  # answered slowly
    assert len(recording.verified) == limit  # the refused attempts cost no argon2
    retry = int(answers[-1].headers["retry-after"])
    assert 0 < retry <= rig.settings.auth_window_s
    assert answers[-1].json()["error"]["code"] == "rate_limited"
    # the attacker's own verified token still works; the victim, elsewhere, signs in
    assert attacker.get("/v1/alerts", headers=bearer(rig.tokens["viewer"])).status_code == 200
    owner = rig.client(client=("192.0.2.7", 40000))
    assert owner.get("/v1/alerts", headers=bearer(rig.tokens["analyst"])).status_code == 200
    assert len(recording.verified) == limit + 1
    assert rig.settings.auth_failures_per_client_token == limit
