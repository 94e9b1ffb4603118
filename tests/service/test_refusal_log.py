"""The refusal log on its own: bounded events whatever the refusals vary in."""

from __future__ import annotations

from trustshield.service.refusals import OVERFLOW, Refusal, RefusalLog


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


def test_varying_addresses_cannot_grow_the_log_past_the_overflow_entry():
    written = []
    log = RefusalLog(
        lambda subject, details: written.append(details), window_s=60, max_keys=10, clock=Clock()
    )
    for k in range(5000):
        log.note(Refusal("bad_token", 401, "alerts.list", f"198.51.{k // 256}.{k % 256}"))
    log.close()
    assert len(written) <= 2 * 10 + 2
    assert sum(d["count"] for d in written) == 5000
    assert any(d["kind"] == OVERFLOW.kind and d["client"] == "*" for d in written)
