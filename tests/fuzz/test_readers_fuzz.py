"""Every reader, fuzzed with seeded mutations of real files: the only outcomes allowed are a
result or the reader's own error naming the file (no other exception, hang or crash).

``make test`` runs :data:`CASES` cases per reader; ``benchmarks/fuzz_readers.py`` runs
thousands. Each test records its case count as the JUnit property ``fuzz_cases``.
"""

from __future__ import annotations

import pytest

from trustshield.testing.fuzz import fuzz
from trustshield.testing.fuzz_targets import targets

CASES = 100
TARGETS = {t.name: t for t in targets()}


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_every_seed_is_a_valid_input(name, tmp_path):
    """Fuzzing starts from inputs the reader accepts, so damage is what it meets."""
    target = TARGETS[name]
    seeds = target.seeds()
    assert seeds
    for i, seed in enumerate(seeds):
        path = tmp_path / str(i) / target.file_name
        path.parent.mkdir()
        path.write_bytes(seed)
        target.read(path)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_damaged_input_gets_a_result_or_a_named_refusal(name, record_property):
    report = fuzz(TARGETS[name], cases=CASES, seed=0, time_limit=20.0)
    record_property("fuzz_cases", report.cases)
    assert report.cases == CASES
    assert report.outcomes["refused"] > 0, (
        "no case was refused: the mutations did not reach the reader"
    )
    shown = "\n".join(
        f"case {f.case} {'+'.join(f.mutations)}: {f.outcome}: {f.detail}"
        for f in report.failures[:5]
    )
    assert not report.failures, f"{len(report.failures)} unacceptable outcome(s):\n{shown}"
