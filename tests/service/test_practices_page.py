"""The dashboard's Practices page reads the active model's latest assessment; without one,
its advice is a `trustshield assess` command that writes it."""

from __future__ import annotations

import html
import json
import re
import shlex

from conftest import sign_in
from trustshield.cli import main


def write_report(folder, model_id: str, generated_at: str, *, status: str | None) -> None:
    """A report.json of ``model_id``; with a principles roll-up of one principle in
    ``status`` (failing false alarms unless met) when ``status`` is given."""
    report = {
        "model": {"model_id": model_id},
        "generated_at": generated_at,
        "datasets": [{"role": "test", "name": "t.csv", "path": "/data/flows test.csv"}],
    }
    if status is not None:
        failing = (
            []
            if status == "met"
            else [{"check": "false alarms", "metric": "fpr", "value": 0.0975, "threshold": 0.06}]
        )
        report["governance"] = {
            "principles": [
                {
                    "item": "oecd:1.4",
                    "title": f"Robustness ({generated_at})",
                    "status": status,
                    "practices": {"met": 1},
                    "key": None,
                    "failing": failing,
                }
            ],
            "crosswalk": {"practices": []},
        }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(json.dumps(report))
    (folder / "report.html").write_text(f"<html><body>{generated_at}</body></html>")


def practices(client) -> tuple[str, dict]:
    return client.get("/ui/practices").text, client.get("/ui/practices?format=json").json()


def test_without_an_assessment_the_advice_is_an_assess_command_that_writes_it(scored, tmp_path):
    client, rig, _ = scored
    model_id = rig.signed.model_id
    assert sign_in(client, rig.tokens["viewer"]).status_code == 303
    page, twin = practices(client)
    assert twin["source"] == "no assessment: nothing measured" and twin["principles"] == []
    assert "trustshield report" not in page
    words = shlex.split(twin["advice"])
    assert words[:2] == ["trustshield", "assess"]
    option = dict(zip(words[2::2], words[3::2]))
    assert option["--model"] == str(rig.settings.models_dir / model_id)
    assert option["--out"] == str(rig.settings.reports_dir / model_id)
    assert option["--data"] == "LABELLED_TEST_DATA"  # no report tells which data: fill in
    assert html.escape(twin["advice"], quote=False) in page

    test_data = tmp_path / "test.csv"
    rig.signed.frame.to_csv(test_data, index=False)
    option["--data"] = str(test_data)
    assert main(["assess", *[w for kv in option.items() for w in kv], "--no-pdf"]) == 0

    page, twin = practices(client)
    report = json.loads((rig.settings.reports_dir / model_id / "report.json").read_text())
    assert twin["source"] == "assessment" and twin["advice"] is None
    assert twin["assessed_at"] == report["generated_at"]
    assert twin["principles"] == report["governance"]["principles"]
    assert "No assessment" not in page
    for principle in report["governance"]["principles"]:
        assert html.escape(principle["title"]) in page


def test_a_report_without_the_roll_up_gives_a_complete_command(scored):
    client, rig, _ = scored
    model_id = rig.signed.model_id
    write_report(rig.settings.reports_dir, model_id, "2026-01-01T00:00:00Z", status=None)
    assert sign_in(client, rig.tokens["viewer"]).status_code == 303
    page, twin = practices(client)
    assert twin["source"].startswith("trust report without the principles roll-up")
    assert shlex.split(twin["advice"])[4:6] == ["--data", "/data/flows test.csv"]
    assert "No assessment of the active model" in page


def test_the_latest_assessment_is_shown_with_its_failing_figures(scored):
    client, rig, _ = scored
    model_id = rig.signed.model_id
    root = rig.settings.reports_dir
    write_report(root, model_id, "2026-01-02T00:00:00Z", status="partly met")
    write_report(root / model_id, model_id, "2026-01-01T00:00:00Z", status="met")
    assert sign_in(client, rig.tokens["viewer"]).status_code == 303
    page, twin = practices(client)
    assert twin["assessed_at"] == "2026-01-02T00:00:00Z"
    assert [p["title"] for p in twin["principles"]] == ["Robustness (2026-01-02T00:00:00Z)"]
    row = re.search(r"<td>Robustness \(2026-01-02.*?</tr>", page, re.S).group(0)
    assert re.search(
        r'<span class="badge failing">failing</span> false alarms: 0.0975 \(bar 0.06\)', row
    )
    assert client.get(f"/ui/reports/{model_id}").text.endswith("2026-01-02T00:00:00Z</body></html>")
    # a newer report without the roll-up does not hide the assessment
    write_report(root / model_id, model_id, "2026-01-03T00:00:00Z", status=None)
    _, twin = practices(client)
    assert twin["source"] == "assessment" and twin["assessed_at"] == "2026-01-02T00:00:00Z"
