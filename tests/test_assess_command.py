"""trustshield assess: every evaluator on a small model, rolled up without overclaiming."""

import contextlib
import io
import json

import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.cli import main
from trustshield.model_folder import save_model
from trustshield.store import AlertStore


@pytest.fixture(scope="module")
def assessed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assess")
    model = train_small(small_flows(0), SMALL_SPEC, SMALL_SPEC_TEXT)
    save_model(model, folder / "model")
    (folder / "spec.yaml").write_text(SMALL_SPEC_TEXT)
    small_flows(1).to_csv(folder / "test.csv", index=False)
    AlertStore(folder / "s.duckdb").close()  # assess reads a store, never creates one
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            [
                "assess",
                "--model",
                str(folder / "model"),
                "--data",
                str(folder / "test.csv"),
                "--out",
                str(folder / "report"),
                "--store",
                str(folder / "s.duckdb"),
                "--no-pdf",
                "--json",
            ]
        )
    return code, folder / "report", json.loads(printed.getvalue())


def test_assess_writes_the_report_with_principles_practices_and_risks(assessed):
    code, out, _ = assessed
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    checks = {e["check"] for e in report["evidence"]}
    assert {
        "detection",
        "evasion resistance",
        "measurement-noise stability",
        "model artifact integrity",
        "no pickle in model artifacts",
        "audit chain integrity",
    } <= checks
    governance = report["governance"]
    assert [p["item"] for p in governance["principles"]] == [
        "oecd:1.2",
        "oecd:1.3",
        "oecd:1.4",
        "oecd:1.5",
    ]
    assert governance["risks"] and governance["crosswalk"]["practices"]
    robustness = governance["principles"][2]["key"]
    assert robustness["check"] == "evasion resistance"
    assert robustness["value"] == next(
        e["value"] for e in report["evidence"] if e["check"] == "evasion resistance"
    )
    assert '<section id="governance">' in (out / "report.html").read_text()
    assert not (out / "report.pdf").exists()  # --no-pdf


def test_no_practice_is_met_unless_every_check_behind_it_passed(assessed):
    _, out, _ = assessed
    report = json.loads((out / "report.json").read_text())
    verdicts = {e["check"]: e["status"] for e in report["evidence"]}
    for row in report["governance"]["crosswalk"]["practices"]:
        if row["status"] == "met":
            assert all(verdicts.get(c) == "pass" for c in row["checks"]), row
        if row["status"] == "not evidenced":
            assert not any(verdicts.get(c) in ("pass", "fail") for c in row["checks"]), row


def test_assess_json_prints_the_files_figures_and_verdicts_it_wrote(assessed):
    _, out, printed = assessed
    report = json.loads((out / "report.json").read_text())
    assert printed["files"] == {
        "html": str(out / "report.html"),
        "json": str(out / "report.json"),
        "pdf": None,
    }
    assert printed["model_id"] == report["model"]["model_id"]
    assert printed["metrics"] == report["metrics"]
    assert sum(printed["evidence"].values()) == len(report["evidence"])
    assert printed["principles"] == [
        {"title": p["title"], "status": p["status"]} for p in report["governance"]["principles"]
    ]


def test_assess_refuses_a_store_that_does_not_exist(assessed, tmp_path, capsys):
    _, out, _ = assessed
    missing = tmp_path / "none.duckdb"
    model, data = out.parent / "model", out.parent / "test.csv"
    args = ["--model", str(model), "--data", str(data), "--out", str(tmp_path / "r")]
    assert main(["assess", *args, "--store", str(missing), "--no-pdf"]) == 1
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "r").exists()


def test_the_report_opens_with_the_verdict_naming_each_failed_check(assessed):
    from trustshield.governance.practices import practices

    _, out, _ = assessed
    report = json.loads((out / "report.json").read_text())
    failed = {e["check"]: e for e in report["evidence"] if e["status"] == "fail"}
    page = (out / "report.html").read_text()
    banner = page[page.index('<section id="verdict"') : page.index("</section>")]
    assert page.index('<section id="verdict"') < page.index('<section id="metrics">')
    for principle in report["governance"]["principles"]:
        behind = {
            c
            for p in practices(use_case=report["governance"]["use_case"])
            if principle["item"] in p.serves
            for c in p.checks
        }
        assert [e["check"] for e in principle["failing"]] == [c for c in failed if c in behind]
        for e in principle["failing"]:
            assert e["value"] == failed[e["check"]]["value"]
            assert f"{e['check']}: <strong>" in banner
