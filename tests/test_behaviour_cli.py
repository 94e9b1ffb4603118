"""train --kind behaviour, detect with a behaviour model, incidents export: from conn logs
(CSV conversions written here from synthetic flows) to incidents as JSON lines."""

import json

import pytest

from conn_flows import behaviour_model, site_log
from trustshield.cli import main


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return behaviour_model(tmp_path_factory.mktemp("behaviour"), note=True)


def test_detect_prints_incidents_as_json_lines_and_export_copies_them(model, tmp_path, capsys):
    log = site_log(tmp_path / "conn.csv", 5, True, labelled=False)
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
    log = site_log(tmp_path / "clean.csv", 6, False, labelled=False)
    assert main(["detect", "--model", str(model), "--input", str(log)]) == 0
    assert "0 incident(s)" in capsys.readouterr().out


def test_export_names_a_line_that_is_no_incident(tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"host": "h"}\n', encoding="utf-8")
    assert main(["incidents", "export", "--incidents", str(bad)]) != 0
    assert "line 1" in capsys.readouterr().err
