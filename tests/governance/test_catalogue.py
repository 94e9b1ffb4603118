"""The framework catalogue: required ids present, every item sourced, clear schema errors, CLI."""

import json

import pytest

from trustshield.cli import main
from trustshield.errors import CatalogueError, TrustShieldError
from trustshield.governance import item, items, load_catalogue
from trustshield.governance.catalogue import catalogue_from_text

REQUIRED = (
    [f"oecd:1.{i}" for i in range(1, 6)]
    + [f"euaia:art{n}" for n in range(9, 16)]
    + ["euaia:recital55", "euaia:annex3-1a", "euaia:dates"]
    + [f"nist-rmf:{f}" for f in ("GOVERN", "MAP", "MEASURE", "MANAGE")]
    + [f"nist-rmf:GOVERN-{i}" for i in range(1, 7)]
    + [f"nist-rmf:MAP-{i}" for i in range(1, 6)]
    + [f"nist-rmf:MEASURE-{i}" for i in range(1, 5)]
    + [f"nist-rmf:MANAGE-{i}" for i in range(1, 5)]
    + [
        f"nist-rmf:{c}"
        for c in (
            "valid-reliable",
            "safe",
            "secure-resilient",
            "accountable-transparent",
            "explainable-interpretable",
            "privacy-enhanced",
            "fair",
        )
    ]
    + [f"altai:{i}" for i in range(1, 8)]
    + [
        f"enisa:{t}"
        for t in (
            "evasion",
            "poisoning",
            "model-disclosure",
            "compromise-components",
            "failure-malfunction",
        )
    ]
    + ["atlas:AML.TA0000"]
    + [f"atlas:AML.T00{n}" for n in ("15", "20", "24", "40", "43")]
    + [f"atlas:AML.M000{n}" for n in (2, 3, 4, 7)]
    + ["atlas:AML.M0015"]
    + [f"owasp-ml:ML{i:02d}" for i in range(1, 11)]
)

GOOD = """
frameworks:
- id: fw
  title: A framework
  publisher: Someone
  version: "1"
  date: "2024"
  status: final
  source: {document: The document, url: "https://example.org/fw"}
  items:
  - {id: "fw:a", title: A, kind: principle, summary: Short., section: "1"}
"""


@pytest.mark.parametrize("item_id", REQUIRED)
def test_every_id_other_modules_reference_is_present(item_id):
    assert item(item_id).id == item_id


def test_every_item_has_a_source_section_and_summary():
    for it in items():
        assert it.source.document and it.source.url.startswith("https://"), it.id
        assert it.section and it.summary and it.title, it.id


def test_the_cyber_ai_profile_is_marked_draft():
    assert load_catalogue().framework("nist-ir8596").status == "draft"
    assert {i.status for i in items("nist-ir8596")} == {"draft"}


def test_items_filter_by_framework_and_kind():
    notes = items("euaia", kind="note")
    assert {i.id for i in notes} == {"euaia:recital55", "euaia:annex3-1a", "euaia:dates"}
    assert all(i.framework == "atlas" for i in items("atlas", kind="technique"))


def test_unknown_ids_are_refused_with_the_known_frameworks():
    with pytest.raises(CatalogueError, match="unknown framework item 'oecd:9'.*'oecd'"):
        item("oecd:9")
    with pytest.raises(CatalogueError, match="unknown framework 'nope'"):
        items("nope")


def test_a_small_valid_catalogue_parses():
    cat = catalogue_from_text(GOOD, "t")
    assert cat.item("fw:a").source.url == "https://example.org/fw"
    assert cat.item("fw:a").status == "final"


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ("kind: principle", "kind: principle, colour: red"),
            r"t: frameworks\[0\] \(fw\): items\[0\] \(fw:a\): unknown keys \['colour'\]",
        ),
        (('id: "fw:a"', 'id: "other:a"'), r"\(other:a\): id 'other:a' must start with .*'fw:'"),
        (
            ('  source: {document: The document, url: "https://example.org/fw"}\n', ""),
            r"frameworks\[0\] \(fw\): missing required key 'source'",
        ),
        (('url: "https://example.org/fw"', "page: 3"), r"\(fw\): source: unknown keys \['page'\]"),
        (("status: final", "status: maybe"), r"\(fw\): status 'maybe' is not one of"),
        (("kind: principle", "kind: vibe"), r"\(fw:a\): kind 'vibe' is not one of"),
        (('section: "1"', 'section: ""'), r"\(fw:a\): missing required key 'section'"),
    ],
)
def test_schema_errors_name_the_framework_item_and_key(change, message):
    with pytest.raises(CatalogueError, match=message):
        catalogue_from_text(GOOD.replace(*change), "t")


def test_duplicate_ids_are_refused():
    doubled = GOOD + '  - {id: "fw:a", title: B, kind: note, summary: S., section: "2"}\n'
    with pytest.raises(CatalogueError, match=r"duplicate item id \['fw:a'\]"):
        catalogue_from_text(doubled, "t")


def test_catalogue_errors_are_trustshield_errors():
    assert issubclass(CatalogueError, TrustShieldError)
    with pytest.raises(CatalogueError, match="not valid YAML"):
        catalogue_from_text("frameworks: [", "t")


def test_cli_lists_frameworks(capsys):
    assert main(["frameworks"]) == 0
    out = capsys.readouterr().out
    for fw in ("oecd", "euaia", "nist-rmf", "altai", "enisa", "atlas", "owasp-ml", "nist-ir8596"):
        assert fw in out


def test_cli_filters_by_framework_and_kind_as_json(capsys):
    assert main(["frameworks", "--framework", "atlas", "--kind", "mitigation", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [fw["id"] for fw in data["frameworks"]] == ["atlas"]
    listed = data["frameworks"][0]["items"]
    assert "atlas:AML.M0004" in {i["id"] for i in listed}
    assert {i["kind"] for i in listed} == {"mitigation"}


def test_cli_unknown_framework_exits_non_zero(capsys):
    assert main(["frameworks", "--framework", "nope"]) == 1
    assert "unknown framework 'nope'" in capsys.readouterr().err
