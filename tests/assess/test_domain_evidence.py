"""Evidence of the domain detector from benchmark figures: pass, fail, not evidenced."""

import json

import pytest

from trustshield.assess.domains import domain_evidence
from trustshield.commands.domains import domain_evidence_of
from trustshield.errors import DataError


def figures(wordlist: float, mean: float, auc: float | None = 0.995) -> dict:
    per_family = {"matsnu": wordlist, "suppobox": 0.9, "gozi": 0.95, "ramdo": 1.0}
    return {
        "leave_one_family_out": {
            "trustshield": {
                "per_family": per_family,
                "mean_detection": mean,
                "wordlist": {f: per_family[f] for f in ("matsnu", "suppobox", "gozi")},
            }
        },
        "random_split": {"trustshield": {"auc": auc}} if auc is not None else {},
        "throughput": {"explained_per_s": 120_000, "max_abs_sum_error": 3e-15},
    }


def by_check(evidence) -> dict:
    return {e.check: (e.value, e.status) for e in evidence}


def test_every_bar_met_passes():
    rows = by_check(domain_evidence(figures(wordlist=0.7, mean=0.93)))
    assert rows["DGA detection, unseen wordlist families"] == (0.7, "pass")
    assert {status for _, status in rows.values()} == {"pass"}


def test_the_weakest_wordlist_family_sets_the_verdict_and_missing_figures_are_not_evidenced():
    rows = by_check(domain_evidence(figures(wordlist=0.11, mean=0.93, auc=None)))
    assert rows["DGA detection, unseen wordlist families"] == (0.11, "fail")
    assert rows["DGA detection, unseen families"] == (0.93, "pass")
    assert rows["DGA ranking"] == (None, "not_evidenced")


def test_a_file_that_is_not_the_benchmarks_json_is_refused(tmp_path):
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"keystroke": {}}))
    with pytest.raises(DataError, match="expected the JSON written by benchmarks/domains.py"):
        domain_evidence_of(str(path))
    path.write_text(json.dumps(figures(wordlist=0.7, mean=0.93)))
    assert len(domain_evidence_of(str(path))) == 5
