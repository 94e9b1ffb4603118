"""Practices and case studies: complete, linked to real items and checks, validated clearly."""

import json
import re

import pytest

from trustshield.cli import main
from trustshield.errors import CatalogueError
from trustshield.governance.catalogue import load_catalogue
from trustshield.governance.practices import (
    KNOWN_CHECKS,
    USE_CASES,
    case_studies,
    case_studies_from_text,
    load_practices,
    practices,
    practices_from_text,
)

PRACTICE = """
- id: X1
  title: t
  statement: s
  why: w
  serves: [oecd:1.4]
  use_cases: [intrusion detection]
  checks: [detection]
"""
CASE = """
- id: C1
  title: t
  date: 2019-07
  kind: misuse
  source: {title: a page, url: "https://example.org/a"}
  what_happened: w
  lesson: l
  practices: [P01]
"""


def test_at_least_40_practices_each_linked_to_framework_items_and_checks():
    found = load_practices()
    assert len(found) >= 40
    catalogue = load_catalogue()
    for p in found:
        assert p.serves and p.checks and p.use_cases, p.id
        for item_id in p.serves:
            catalogue.item(item_id)  # raises when the item does not exist
        assert set(p.checks) <= set(KNOWN_CHECKS), p.id
        assert set(p.use_cases) <= set(USE_CASES), p.id
        assert p.statement and p.why and p.title


def test_every_framework_family_and_every_use_case_is_served():
    found = load_practices()
    prefixes = {s.split(":")[0] for p in found for s in p.serves}
    assert {"oecd", "euaia", "nist-rmf", "altai", "enisa", "atlas", "owasp-ml"} <= prefixes
    assert {u for p in found for u in p.use_cases} == set(USE_CASES)
    assert {f"oecd:1.{i}" for i in range(2, 6)} <= {s for p in found for s in p.serves}


def test_known_checks_are_unique_and_all_cited():
    assert len(set(KNOWN_CHECKS)) == len(KNOWN_CHECKS)
    assert {c for p in load_practices() for c in p.checks} == set(KNOWN_CHECKS)


def test_at_least_12_dated_case_studies_with_sources_and_existing_practices():
    cases = case_studies()
    assert len(cases) >= 12
    ids = {p.id for p in load_practices()}
    for c in cases:
        assert re.fullmatch(r"\d{4}(-\d{2})?", c.date), c.id
        assert c.source.url.startswith("https://") and c.source.title, c.id
        assert c.practices and set(c.practices) <= ids, c.id
        assert c.what_happened and c.lesson
    assert {c.kind for c in cases} == {"deployment", "attack on ML defence", "misuse"}


def test_principle_filter_takes_oecd_ids_and_words():
    by_id = practices(principle="oecd:1.3")
    assert by_id and all("oecd:1.3" in p.serves for p in by_id)
    assert [p.id for p in practices(principle="Transparency")] == [p.id for p in by_id]
    privacy = practices(principle="privacy")
    assert privacy == practices(principle="oecd:1.2") == practices(principle="fairness")
    with pytest.raises(CatalogueError, match="unknown principle 'vibes'.*transparency"):
        practices(principle="vibes")


def test_framework_and_use_case_filters():
    atlas = practices(framework="atlas")
    assert atlas and all(any(s.startswith("atlas:") for s in p.serves) for p in atlas)
    art14 = practices(framework="euaia:art14")
    assert art14 and all("euaia:art14" in p.serves for p in art14)
    auth = practices(use_case="authentication")
    assert auth and all("authentication" in p.use_cases for p in auth)
    both = practices(framework="owasp-ml", use_case="phishing")
    assert set(both) == set(practices(framework="owasp-ml")) & set(practices(use_case="phishing"))
    with pytest.raises(CatalogueError, match="unknown framework 'iso'"):
        practices(framework="iso")
    with pytest.raises(CatalogueError, match="unknown framework item 'euaia:art99'"):
        practices(framework="euaia:art99")
    with pytest.raises(CatalogueError, match="unknown use case 'fraud'"):
        practices(use_case="fraud")


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("checks: [detection]", "checks: [vibes]"),
            r"entry 0 \(X1\): checks \['vibes'\] not known",
        ),
        (
            ("serves: [oecd:1.4]", "serves: [oecd:9.9]"),
            r"\(X1\): serves 'oecd:9.9', which is not a",
        ),
        (("serves: [oecd:1.4]", "serves: []"), r"\(X1\): missing required key 'serves'"),
        (("  why: w\n", ""), r"\(X1\): missing required key 'why'"),
        (("  why: w\n", "  why: w\n  colour: red\n"), r"\(X1\): unknown keys \['colour'\]"),
        (
            ("use_cases: [intrusion detection]", "use_cases: [fraud]"),
            r"use_cases \['fraud'\] not known",
        ),
        (
            ("checks: [detection]", "checks: detection"),
            r"checks must be a non-empty list of strings",
        ),
    ],
)
def test_practice_schema_errors_name_the_entry_and_key(edit, message):
    with pytest.raises(CatalogueError, match=message):
        practices_from_text(PRACTICE.replace(*edit), "mine.yaml")


def test_duplicate_ids_and_bad_yaml_are_refused():
    with pytest.raises(CatalogueError, match=r"mine.yaml: duplicate practice id \['X1'\]"):
        practices_from_text(PRACTICE + PRACTICE, "mine.yaml")
    with pytest.raises(CatalogueError, match="not valid YAML"):
        practices_from_text("- id: [", "mine.yaml")
    with pytest.raises(CatalogueError, match="expected a non-empty list"):
        practices_from_text("id: X1", "mine.yaml")
    assert practices_from_text(PRACTICE)[0].checks == ("detection",)


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ("practices: [P01]", "practices: [P999]"),
            r"entry 0 \(C1\): practices \['P999'\] not known",
        ),
        (("date: 2019-07", "date: July 2019"), r"\(C1\): date 'July 2019' must be YYYY or YYYY-MM"),
        (("date: 2019-07", "date: 2019-13"), r"date '2019-13'"),
        (("kind: misuse", "kind: rumour"), r"kind 'rumour' is not one of"),
        (
            ('url: "https://example.org/a"', 'url: "http://example.org/a"'),
            r"source: url .* https://",
        ),
        (("source: {title: a page, ", "source: {"), r"source: missing required key 'title'"),
        (("  lesson: l\n", ""), r"\(C1\): missing required key 'lesson'"),
    ],
)
def test_case_study_schema_errors_name_the_entry_and_key(edit, message):
    with pytest.raises(CatalogueError, match=message):
        case_studies_from_text(CASE.replace(*edit), "cases.yaml", {"P01"})


def test_a_year_alone_is_a_valid_date():
    case = case_studies_from_text(CASE.replace("date: 2019-07", "date: 2018"), "c", {"P01"})[0]
    assert case.date == "2018"


def test_practices_cli_filters_and_json(capsys):
    assert main(["practices", "--principle", "transparency", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["practices"]
    assert [p["id"] for p in listed] == [p.id for p in practices(principle="oecd:1.3")]
    assert all("oecd:1.3" in p["serves"] and p["checks"] for p in listed)
    assert main(["practices", "--use-case", "authentication", "--framework", "owasp-ml"]) == 0
    out = capsys.readouterr().out
    assert "P33" in out and "P13" not in out


def test_practices_cli_refuses_unknown_filters_in_one_line(capsys):
    assert main(["practices", "--principle", "vibes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("trustshield: error: unknown principle") and err.count("\n") == 1


def test_casestudies_cli(capsys):
    assert main(["casestudies", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["case_studies"]
    assert len(listed) == len(case_studies())
    assert all(c["source"]["url"].startswith("https://") and c["practices"] for c in listed)
    assert main(["casestudies"]) == 0
    out = capsys.readouterr().out
    assert "CS02" in out and "https://www.proofpoint.com/" in out
