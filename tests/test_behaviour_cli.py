"""train --kind behaviour, detect with a behaviour model, incidents export: from conn logs
(CSV conversions written here from synthetic flows) to incidents as JSON lines."""

import json

import pytest

from conn_flows import T0, beacon, chatter, flows, scan
from trustshield.cli import main


def _log(path, seed: int, infected: bool, labelled: bool = True):
    records = chatter("10.0.0.5", 100, seed=seed) + chatter("10.0.0.6", 100, seed=seed + 9)
    if infected:
        records += beacon("10.0.0.5", f"203.0.113.{seed}", 7000 + seed, 3.0, 2000)
        records += scan("10.0.0.5", 23, 300, start=T0 + 3600)
    frame = flows(records)
    if not labelled:
        frame = frame.drop(columns="label")
    frame.to_csv(path, index=False, na_rep="-")
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    work = tmp_path_factory.mktemp("behaviour")
    logs = work / "logs"
    logs.mkdir()
    for seed, infected in ((1, True), (2, False), (3, True), (4, False)):
        _log(logs / f"site{seed}.csv", seed, infected)
    (logs / "README.md").write_text("notes are skipped", encoding="utf-8")
    out = work / "model"
    assert main(["train", "--kind", "behaviour", "--input", str(logs), "--out", str(out)]) == 0
    return out


def test_detect_prints_incidents_as_json_lines_and_export_copies_them(model, tmp_path, capsys):
    log = _log(tmp_path / "conn.csv", 5, True, labelled=False)
    capsys.readouterr()
    saved = tmp_path / "incidents.jsonl"
    args = ["detect", "--model", str(model), "--input", str(log), "--incidents", str(saved)]
    assert main([*args, "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    incident = json.loads(line)
    assert incident["host"] == "10.0.0.5" and incident["severity"] == "high"
    assert {b["name"] for b in incident["behaviours"]} >= {"horizontal scan"}
    out = tmp_path / "export.jsonl"
    assert main(["incidents", "export", "--incidents", str(saved), "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0]) == incident


def test_a_clean_log_raises_no_incident(model, tmp_path, capsys):
    log = _log(tmp_path / "clean.csv", 6, False, labelled=False)
    assert main(["detect", "--model", str(model), "--input", str(log)]) == 0
    assert "0 incident(s)" in capsys.readouterr().out


def test_export_names_a_line_that_is_no_incident(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"host": "h"}\n', encoding="utf-8")
    assert main(["incidents", "export", "--incidents", str(bad)]) != 0
    assert "line 1" in capsys.readouterr().err
