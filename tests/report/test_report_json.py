"""report.json: a published schema it meets, a model card and data sheet that follow the
evidence, and what changed since the previous report of the same model."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import jsonschema
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows
from trustshield.cli import main
from trustshield.errors import DataError
from trustshield.model_folder import save_model
from trustshield.pipeline.report_sections import (
    Changes,
    DriftSection,
    EvidenceRow,
    ModelInfo,
    ReportContent,
)
from trustshield.pipeline.model_card import NO_LICENCE, data_sheet, model_card, parse_source
from trustshield.pipeline.train import TrainConfig, train
from trustshield.report import render_html, schema, write_report
from trustshield.report.changes import compare


def _train(folder, seed):
    model = train(
        small_flows(seed),
        SMALL_SPEC,
        SMALL_SPEC_TEXT,
        config=TrainConfig(n_prototypes=8, n_estimators=5, n_threads=1, capacity="fixed"),
        provenance={"data": {"name": "synthetic"}},
    )
    save_model(model, folder)
    return model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two models; `report` twice on the same folder with different test data, then `assess`
    of the other model into the same folder."""
    root = tmp_path_factory.mktemp("reportjson")
    _train(root / "m1", 0)
    _train(root / "m2", 3)
    for seed in (1, 2):
        small_flows(seed).to_csv(root / f"test{seed}.csv", index=False)
    out = root / "out"
    reports = []
    for seed in (1, 2):
        assert (
            main(
                [
                    "report",
                    "--model",
                    str(root / "m1"),
                    "--data",
                    str(root / f"test{seed}.csv"),
                    "--out",
                    str(out),
                    "--no-pdf",
                ]
            )
            == 0
        )
        reports.append(json.loads((out / "report.json").read_text()))
    assert (
        main(
            [
                "assess",
                "--model",
                str(root / "m2"),
                "--data",
                str(root / "test1.csv"),
                "--out",
                str(out),
                "--no-pdf",
            ]
        )
        == 0
    )
    reports.append(json.loads((out / "report.json").read_text()))
    return reports, (out / "report.html").read_text()


def _validator():
    return jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())


def test_the_published_schema_is_valid_draft_2020_12():
    published = schema()
    jsonschema.Draft202012Validator.check_schema(published)
    assert published["$schema"].endswith("/2020-12/schema")
    assert set(published["required"]) == {"model", "datasets", "protocol", "metrics"}


def test_reports_from_report_and_assess_meet_the_schema(runs):
    reports, _ = runs
    for report in reports:
        _validator().validate(report)
    assert "governance" in reports[2] and {"model_card", "data_sheet", "changes"} <= set(reports[2])


@pytest.mark.parametrize(
    "break_it",
    [
        lambda r: r["evidence"][0].update(status="maybe"),
        lambda r: r["model"].pop("model_id"),
        lambda r: r.pop("metrics"),
        lambda r: r["data_sheet"][0].update(sha256="not-a-hash"),
        lambda r: r["changes"].update(status="unknown"),
    ],
    ids=[
        "evidence status maybe",
        "missing model_id",
        "missing metrics",
        "bad sha256",
        "bad changes status",
    ],
)
def test_a_broken_report_does_not_meet_the_schema(runs, break_it):
    broken = copy.deepcopy(runs[0][0])
    break_it(broken)
    assert not _validator().is_valid(broken)


def test_a_failing_check_appears_under_limitations():
    spec = SimpleNamespace(name="tiny-flows", description="")
    report = {
        "metrics": {"accuracy": 0.8},
        "ceilings": ["2 attack names never occur in training."],
        "evidence": [
            {
                "check": "detection",
                "metric": "accuracy on labelled test data",
                "value": 0.8,
                "threshold": 0.9,
                "status": "fail",
            },
            {
                "check": "false alarms",
                "metric": "fpr",
                "value": 0.01,
                "threshold": 0.06,
                "status": "pass",
            },
            {
                "check": "poisoning resilience",
                "metric": "m",
                "value": None,
                "threshold": 0.1,
                "status": "not_evidenced",
            },
        ],
    }
    card = model_card(spec, report)
    limits = " ".join(card["limitations"])
    assert "detection failed" in limits and "below the 0.9 bar" in limits
    assert "never occur in training" in limits and "poisoning resilience" in limits
    assert "false alarms" not in limits
    assert card["metrics"] == {"accuracy": 0.8} and "tiny-flows" in card["intended_use"]
    assert card["out_of_scope"] and card["ethical_considerations"]


def test_the_report_card_follows_its_own_evidence(runs):
    reports, page = runs
    for report in reports:
        limits = report["model_card"]["limitations"]
        for e in report["evidence"]:
            if e["status"] == "fail":
                assert any(line.startswith(f"{e['check']} failed") for line in limits), e["check"]
    assert '<section id="model-card">' in page and '<section id="data-sheet">' in page
    assert page.index('id="model-card"') < page.index('id="governance"')


def test_data_sheet_reads_the_licence_and_source_beside_the_file(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "SOURCE.md").write_text(
        "# Toy flows\n\n## Origin\nCopied from https://example.org/toy/flows.csv.\n\n"
        "## Licence / terms\n**CC BY 4.0** (attribution required).\nSecond line.\n\n## Contents\nx\n"
    )
    spec = SimpleNamespace(files=())
    rows = data_sheet(
        spec,
        [
            {
                "role": "test",
                "name": "flows.csv",
                "path": str(folder / "flows.csv"),
                "sha256": "c" * 64,
                "rows": 10,
                "rejected_rows": 1,
            },
            {"role": "train", "name": "synthetic"},
        ],
    )
    assert rows[0]["licence"] == "CC BY 4.0 (attribution required). Second line."
    assert rows[0]["source_url"] == "https://example.org/toy/flows.csv"
    assert (rows[0]["rows"], rows[0]["rejected_rows"], rows[0]["sha256"]) == (10, 1, "c" * 64)
    assert rows[1]["licence"] == NO_LICENCE
    assert parse_source("# x\n\nno licence heading here\n") == {}
    page = render_html(
        {
            "model": {"model_id": "m"},
            "datasets": [],
            "protocol": "p",
            "metrics": {},
            "data_sheet": rows,
        }
    )
    sheet = page.split('id="data-sheet"')[1]
    assert "CC BY 4.0" in sheet and "example.org/toy/flows.csv" in sheet and "https://" not in page


def test_the_first_report_has_no_changes(runs):
    first = runs[0][0]["changes"]
    assert first["status"] == "first report" and first["metrics"] == [] and first["evidence"] == []


def test_a_second_report_of_the_same_model_lists_what_changed(runs):
    (one, two, _), _ = runs
    changes = two["changes"]
    assert (
        changes["status"] == "compared" and changes["previous_generated_at"] == one["generated_at"]
    )
    rows = {m["metric"]: m for m in changes["metrics"]}
    moved = [m for m in rows.values() if m["delta"]]
    assert moved, "different test data should move at least one metric"
    for m in moved:
        assert m["old"] == one["metrics"][m["metric"]] and m["new"] == two["metrics"][m["metric"]]
        assert m["delta"] == pytest.approx(m["new"] - m["old"])


def test_a_report_of_another_model_is_not_compared(runs):
    (_, two, three), page = runs
    changes = three["changes"]
    assert changes["status"] == "different model"
    assert changes["previous_model_id"] == two["model"]["model_id"] != three["model"]["model_id"]
    assert changes["metrics"] == [] and changes["evidence"] == []
    assert '<section id="changes">' in page and "different model" in page


def test_evidence_verdict_changes_are_listed_old_to_new(tmp_path):
    base = {
        "model": {"model_id": "m"},
        "datasets": [],
        "protocol": "p",
        "metrics": {"accuracy": 0.95},
        "evidence": [{"check": "detection", "metric": "acc", "status": "pass"}],
    }
    write_report(copy.deepcopy(base), tmp_path)
    worse = copy.deepcopy(base)
    worse["metrics"]["accuracy"] = 0.85
    worse["evidence"][0]["status"] = "fail"
    write_report(worse, tmp_path)
    saved = json.loads((tmp_path / "report.json").read_text())["changes"]
    assert saved["evidence"] == [
        {"check": "detection", "metric": "acc", "old": "pass", "new": "fail"}
    ]
    assert saved["metrics"][0]["delta"] == pytest.approx(-0.10)
    assert "pass" in (tmp_path / "report.html").read_text().split('id="changes"')[1]
    assert compare({"not": "a report"}, base)["status"] == "previous report unreadable"


def test_typed_content_reads_back_every_written_report_byte_for_byte(runs):
    """report.json is the typed content's as_dict: reading a written report into
    ReportContent and back gives the same JSON text, drift and governance included."""
    reports, _ = runs
    assert "drift" in reports[0] and "governance" in reports[2]
    for report in reports:
        content = ReportContent.from_dict(report)
        assert isinstance(content.model, ModelInfo) and isinstance(content.drift, DriftSection)
        assert isinstance(content.evidence[0], EvidenceRow) and isinstance(content.changes, Changes)
        again = content.as_dict()
        assert json.dumps(again, indent=2, sort_keys=True) == json.dumps(
            report, indent=2, sort_keys=True
        )
    typed = ReportContent.from_dict(reports[2])
    assert render_html(typed) == render_html(reports[2])


def test_typed_content_keeps_absent_sections_absent_and_fills_missing_row_keys():
    minimal = {
        "model": {"model_id": "m"},
        "datasets": [],
        "protocol": "p",
        "metrics": {},
        "evidence": [{"check": "detection", "status": "pass"}, "not a row"],
    }
    content = ReportContent.from_dict(minimal)
    assert content.per_attack is None and content.drift is None and content.title is None
    assert content.evidence == (EvidenceRow("detection", None, None, None, "pass", None),)
    assert set(content.as_dict()) == set(minimal)
    with pytest.raises(DataError, match="'metrics' must be a Mapping"):
        ReportContent.from_dict({**minimal, "metrics": [0.9]})
