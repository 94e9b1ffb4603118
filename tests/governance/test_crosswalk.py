"""Crosswalk from Evidence to practices and framework items: nothing unmeasured is met."""

from dataclasses import dataclass

import pytest

from trustshield.governance.crosswalk import (
    MET,
    NOT_APPLICABLE,
    NOT_EVIDENCED,
    NOT_MET,
    PARTLY,
    crosswalk,
    item_status,
    measured,
)
from trustshield.records import Evidence


@dataclass
class Practice:
    id: str
    serves: tuple
    use_cases: tuple
    checks: tuple


def ev(check, status):
    return Evidence(check, "m", None if status == "not_evidenced" else 1.0, None, status, ())


PRACTICES = [
    Practice("P1", ("oecd:1.4",), ("intrusion detection",), ("a", "b")),
    Practice("P2", ("oecd:1.4", "oecd:1.3"), ("intrusion detection",), ("c",)),
    Practice("P3", ("oecd:1.2",), ("authentication",), ("d",)),
]


@pytest.mark.parametrize(
    "statuses, expected",
    [
        ({"a": "pass", "b": "pass"}, MET),
        ({"a": "pass", "b": "fail"}, PARTLY),
        ({"a": "pass"}, PARTLY),  # b never measured: not met in full
        ({"a": "fail", "b": "fail"}, NOT_MET),
        ({"a": "fail"}, PARTLY),
        ({}, NOT_EVIDENCED),
        ({"a": "not_evidenced", "b": "not_evidenced"}, NOT_EVIDENCED),
    ],
)
def test_practice_status_from_its_checks(statuses, expected):
    result = crosswalk(PRACTICES[:1], [ev(c, s) for c, s in statuses.items()])
    assert result["practices"][0]["status"] == expected


def test_a_failing_measurement_wins_over_a_passing_one_of_the_same_check():
    assert measured([ev("a", "pass"), ev("a", "fail"), ev("a", "pass")]) == {"a": "fail"}
    assert measured([ev("a", "not_evidenced"), ev("a", "pass")]) == {"a": "pass"}


def test_use_case_marks_other_practices_not_applicable_with_a_reason():
    result = crosswalk(PRACTICES, [ev("d", "pass")], use_case="intrusion detection")
    rows = {r["practice"]: r for r in result["practices"]}
    assert rows["P3"]["status"] == NOT_APPLICABLE and "authentication" in rows["P3"]["reason"]
    assert rows["P1"]["status"] == NOT_EVIDENCED


def test_rollup_counts_practices_per_item_and_never_calls_unmeasured_met():
    result = crosswalk(PRACTICES, [ev("a", "pass"), ev("b", "pass"), ev("z", "pass")])
    items = result["items"]
    assert items["oecd:1.4"][MET] == 1 and items["oecd:1.4"][NOT_EVIDENCED] == 1
    assert item_status(items["oecd:1.4"]) == PARTLY
    assert item_status(items["oecd:1.3"]) == NOT_EVIDENCED
    assert item_status({MET: 2, NOT_APPLICABLE: 1}) == MET
    assert result["unused_evidence"] == ["z"]


def test_a_practice_with_an_unmeasured_part_is_at_most_partly_met():
    @dataclass
    class Planned(Practice):
        planned: str = "drift monitoring"

    practice = Planned("P9", ("oecd:1.4",), ("intrusion detection",), ("a",))
    row = crosswalk([practice], [ev("a", "pass")])["practices"][0]
    assert row["status"] == PARTLY and "drift monitoring" in row["reason"]
