"""The report opens with a verdict: principles met and failing, each failed figure beside its
bar, and a failed figure marked failing wherever the page shows it."""

from __future__ import annotations

import re

from trustshield.pipeline.assessment import governance
from trustshield.report import render_html

FPR, FPR_BAR = 0.0975, 0.06


def evidence(fpr: float = FPR) -> list[dict]:
    """A small assessment's Evidence: false alarms measured against their bar, the rest
    passing or unmeasured."""
    status = "fail" if fpr > FPR_BAR else "pass"

    def row(check, metric, value, bar, verdict):
        return {
            "check": check,
            "metric": metric,
            "value": value,
            "threshold": bar,
            "status": verdict,
            "principles": [],
        }

    return [
        row("detection", "accuracy on labelled test data", 0.9125, 0.90, "pass"),
        row("false alarms", "share of normal test records alerted", fpr, FPR_BAR, status),
        row("explanation exactness", "max |error|", 2e-9, 1e-6, "pass"),
        row("data provenance", "sha256 recorded", None, None, "pass"),
        row("audit chain integrity", "chain verified", None, None, "pass"),
        row("template encryption at rest", "templates", None, None, "not_evidenced"),
    ]


def assessment(fpr: float = FPR) -> dict:
    """A report as `trustshield assess` writes it: figures, Evidence and the roll-up."""
    rows = evidence(fpr)
    return {
        "model": {"model_id": "m-0001", "detector": "hybrid"},
        "datasets": [{"role": "test", "name": "test.csv", "path": "/data/test.csv"}],
        "protocol": "Operating points chosen on held-out training groups.",
        "metrics": {"accuracy": 0.9125, "fpr": fpr, "detection_rate": 0.88},
        "model_card": {
            "intended_use": "intrusion detection",
            "out_of_scope": [],
            "metrics": {"accuracy": 0.9125, "fpr": fpr},
            "limitations": [],
            "ethical_considerations": [],
        },
        "evidence": rows,
        "governance": governance(rows, use_case="intrusion detection"),
    }


def section(page: str, sid: str) -> str:
    found = re.search(rf'<section id="{sid}"[^>]*>(.*?)</section>', page, re.S)
    assert found, sid
    return found.group(1)


def principle_rows(banner: str) -> dict[str, str]:
    """Principle title → its row in the verdict table."""
    rows = re.findall(r'<tr class="principle-[a-z_]+"><td>(.*?)</td>(.*?)</tr>', banner, re.S)
    return dict(rows)


def test_each_principle_lists_the_failed_checks_of_the_practices_serving_it():
    g = governance(evidence(), use_case="intrusion detection")
    failing = {p["item"]: [e["check"] for e in p["failing"]] for p in g["principles"]}
    # false alarms stand behind practices of transparency (P44), robustness and accountability
    assert failing == {
        "oecd:1.2": [],
        "oecd:1.3": ["false alarms"],
        "oecd:1.4": ["false alarms"],
        "oecd:1.5": ["false alarms"],
    }
    passing = governance(evidence(0.03), use_case="intrusion detection")
    assert all(p["failing"] == [] for p in passing["principles"])


def test_the_verdict_banner_comes_first_and_names_failing_principles_with_figures():
    page = render_html(assessment())
    banner = section(page, "verdict")
    assert page.index('<section id="verdict"') < page.index('<section id="metrics">')
    assert page.index('<header class="page">') < page.index('<section id="verdict"')
    assert "3 of 4 principles fail" in banner
    rows = principle_rows(banner)
    assert len(rows) == 4
    failing = [title for title, row in rows.items() if "✗ fails" in row]
    assert len(failing) == 3
    for title in failing:
        assert "false alarms: <strong>0.0975</strong>" in rows[title]
        assert "(bar ≤ 0.06)" in rows[title]
    (fairness,) = [title for title, row in rows.items() if title not in failing]
    assert "not evidenced" in rows[fairness] and "0.0975" not in rows[fairness]


def test_nothing_is_marked_failing_when_every_bar_is_met():
    banner = section(render_html(assessment(0.03)), "verdict")
    assert "✗" not in banner and "status-fail" not in banner
    assert all(
        "partly evidenced" in row or "not evidenced" in row or "met" in row
        for row in principle_rows(banner).values()
    )


def test_principles_met_failing_and_unproven_are_told_apart():
    report = assessment()
    failed = {"check": "false alarms", "metric": "fpr", "value": FPR, "threshold": FPR_BAR}
    report["governance"] = {
        "use_case": "intrusion detection",
        "principles": [
            {"item": "a", "title": "Met one", "status": "met", "practices": {}, "failing": []},
            {
                "item": "b",
                "title": "Failing one",
                "status": "partly met",
                "practices": {},
                "failing": [failed],
            },
            {
                "item": "c",
                "title": "Unproven one",
                "status": "partly met",
                "practices": {},
                "failing": [],
            },
            {
                "item": "d",
                "title": "Unmeasured one",
                "status": "not evidenced",
                "practices": {},
                "failing": [],
            },
        ],
        "crosswalk": {"practices": []},
        "risks": [],
    }
    banner = section(render_html(report), "verdict")
    assert "1 of 4 principles fail" in banner and "1 met" in banner
    assert "2 not fully evidenced" in banner
    rows = principle_rows(banner)
    assert "✓ met" in rows["Met one"]
    assert "✗ fails" in rows["Failing one"] and "0.0975" in rows["Failing one"]
    assert "partly evidenced" in rows["Unproven one"]
    assert "? not evidenced" in rows["Unmeasured one"]


def test_a_failed_figure_is_marked_failing_wherever_it_appears():
    page = render_html(assessment())
    card = re.search(
        r'<div class="card ([a-z-]+)" id="metric-fpr">(.*?)</div><div class="note">', page
    )
    assert card and card.group(1) == "card-fail"
    assert "✗ fails" in card.group(2) and "bar ≤ 6.00%" in card.group(2)
    accuracy = re.search(r'<div class="card ([a-z-]+)" id="metric-accuracy">', page)
    assert accuracy and accuracy.group(1) == "card-pass"
    assert '<div class="card" id="metric-detection_rate">' in page  # no bar: not judged
    model_card = section(page, "model-card")
    assert re.search(r'<tr class="row-fail"><td class="">fpr</td>.*?✗ fails', model_card)
    assert 'class="row-fail"><td class="">accuracy' not in model_card
    roll_up = section(page, "governance")
    assert 'false alarms: <strong>0.0975</strong> <span class="status status-fail">' in roll_up
    evidence_table = section(page, "evidence")
    assert re.search(r"false alarms</td>.*?status-fail", evidence_table)


def test_the_same_figure_under_its_bar_is_not_marked_failing():
    page = render_html(assessment(0.05))
    card = re.search(r'<div class="card ([a-z-]+)" id="metric-fpr">', page)
    assert card and card.group(1) == "card-pass"
    assert "row-fail" not in section(page, "model-card")


def test_without_a_roll_up_the_banner_lists_failed_checks_and_the_command_that_adds_it():
    report = assessment()
    del report["governance"]
    banner = section(render_html(report), "verdict")
    assert "1 check fail" in banner
    assert "false alarms: <strong>0.0975</strong>" in banner and "(bar ≤ 0.06)" in banner
    assert "trustshield assess --model" in banner
