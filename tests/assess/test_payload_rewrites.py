"""Semantics-preserving payload rewrites: what each move writes, determinism, and the
evasion count."""

import numpy as np
import pytest

from trustshield.assess.robustness.payload_rewrites import (
    MOVES,
    Budget,
    candidates,
    evasion,
    guided_evasion,
    rewrite,
)
from trustshield.errors import DataError


def rng():
    return np.random.default_rng(3)


@pytest.mark.parametrize(
    "kind, move, payload, allowed",
    [
        ("sqli", "and/or as &&/||", "1 and 2=2", {"1 && 2=2"}),
        ("sqli", "= as like", "1 and 2=2", {"1 and 2 like 2"}),
        ("sqli", "integer as hex", "x 255", {"x 0xff"}),
        (
            "sqli",
            "string split or hex",
            "'abcd'",
            {"0x61626364", "'a' 'bcd'", "'ab' 'cd'", "'abc' 'd'"},
        ),
        ("xss", "blank after tag", "<img src=x>", {"<img/src=x>", "<img\nsrc=x>", "<img\tsrc=x>"}),
        ("cmdi", "blank as ${IFS} or tab", "a; id", {"a;${IFS}id", "a;\tid"}),
        ("path-traversal", "./ inserted", "../etc", {".././etc"}),
    ],
)
def test_a_move_writes_an_equivalent_form(kind, move, payload, allowed):
    assert MOVES[kind][move](payload, rng()) in allowed


def test_case_moves_change_only_case_and_entities_only_attribute_values():
    out = MOVES["sqli"]["keyword case"]("1 union select 2", rng())
    assert out.lower() == "1 union select 2"
    ref = MOVES["xss"]["character reference"]('<a href="javascript:x">', rng())
    assert ref.startswith('<a href="') and "&#" in ref
    assert MOVES["xss"]["character reference"]("<script>a=1</script>", rng()) is None


def test_a_move_that_does_not_apply_gives_none_and_rewrite_leaves_the_payload():
    assert MOVES["sqli"]["= as like"]("no numbers here", rng()) is None
    assert rewrite("plain", "unknown-type", rng(), 5) == "plain"


def test_candidates_are_seeded_per_payload_and_differ_from_the_original():
    payloads = ["1' union select null,null--", "<script>alert(1)</script>"]
    kinds = ["sqli", "xss"]
    first = candidates(payloads, kinds, Budget(moves=3, tries=4), seed=1)
    assert first == candidates(payloads, kinds, Budget(moves=3, tries=4), seed=1)
    assert first != candidates(payloads, kinds, Budget(moves=3, tries=4), seed=2)
    assert [len(row) for row in first] == [4, 4]
    assert all(c != p for p, row in zip(payloads, first) for c in row)


def test_candidates_refuse_mismatched_lengths_and_a_budget_of_zero():
    with pytest.raises(DataError, match="2 payloads but 1 attack types"):
        candidates(["a", "b"], ["sqli"], Budget())
    with pytest.raises(DataError, match="moves >= 1"):
        Budget(moves=0)


def test_evasion_counts_caught_payloads_with_one_unflagged_candidate():
    tried = [["bad", "bad"], ["bad", "ok"], ["ok"]]
    caught = np.array([True, True, False])
    flagged = lambda p: np.array([x == "bad" for x in p])  # noqa: E731
    assert evasion(flagged, tried, caught).tolist() == [False, True, False]


def test_guided_search_follows_the_score_down_within_its_budget():
    calls = []

    def score(payloads):  # the fewer upper-case letters in a keyword, the more suspicious
        calls.append(len(payloads))
        return np.array([-sum(c.isupper() for c in p) for p in payloads], dtype=float)

    payloads, kinds = ["1 union select null", "1 and 2=2"], ["sqli", "sqli"]
    budget = Budget(moves=5, tries=50)
    evaded = guided_evasion(score, -2.5, payloads, kinds, budget, seed=0)
    assert evaded.dtype == bool and evaded.shape == (2,)
    assert evaded[0]  # "union select" offers enough letters to upper-case
    assert sum(calls[1:]) <= budget.tries * len(payloads)
    never = guided_evasion(lambda p: np.full(len(p), 9.0), 0.0, payloads, kinds, budget)
    assert not never.any()
