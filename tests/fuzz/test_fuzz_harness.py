"""The fuzz harness itself: it tells every unacceptable outcome apart, survives hangs and
crashes of the reader, and makes the same cases from the same seed."""

from __future__ import annotations

import os
import random
import time

from trustshield.errors import DataError
from trustshield.testing.fuzz import MUTATIONS, FuzzTarget, fuzz, make_case

SEEDS = (b"a,b,c\n1,2,3\n4,5,6\n", b"x\ty\n7\t8\n")


def _reader(path):
    """A reader whose behaviour the first byte of the file picks."""
    data = path.read_bytes()
    first = data[:1]
    if first == b"K":
        raise KeyError("boom")
    if first == b"S":
        time.sleep(30)
    if first == b"X":
        os._exit(3)
    if first == b"U":
        raise DataError("something is wrong")  # does not name the file
    if first == b"R":
        raise DataError(f"{path}: line 1: refused")
    return len(data)


def _target(seeds) -> FuzzTarget:
    return FuzzTarget("probe", "input.csv", lambda: list(seeds), _reader, (DataError,))


def test_each_outcome_is_told_apart_and_the_worker_is_replaced_after_a_hang_or_crash(monkeypatch):
    # one mutation that keeps the seed as it is, so each case reads one seed unchanged
    monkeypatch.setattr("trustshield.testing.fuzz.MUTATIONS", {"same": lambda data, rng: data})
    report = fuzz(_target([b"S", b"K", b"X", b"U", b"R", b"ok"]), cases=24, time_limit=1.0)
    seen = {f.outcome: f for f in report.failures}
    assert set(seen) == {"hang", "unexpected", "crash", "unnamed"}
    assert "KeyError" in seen["unexpected"].detail
    assert report.outcomes["result"] > 0 and report.outcomes["refused"] > 0
    assert sum(report.outcomes.values()) == report.cases == 24  # cases after hangs still ran
    assert seen["hang"].seconds < 5


def test_the_same_seed_makes_the_same_cases_and_another_seed_others():
    def cases(seed):
        rng = random.Random(seed)
        return [make_case(SEEDS, rng) for _ in range(50)]

    assert cases(1) == cases(1)
    assert cases(1) != cases(2)
    names = {n for mutations, _ in cases(3) + cases(4) for n in mutations}
    assert len(names) >= len(MUTATIONS) // 2


def test_every_mutation_copes_with_empty_and_one_byte_input():
    rng = random.Random(0)
    for name, mutate in MUTATIONS.items():
        for data in (b"", b"x", b"\n"):
            assert isinstance(mutate(data, rng), bytes), name
