"""The command line on the inputs people bring: a table with only a header, and standard
output piped into a reader that stops early. A small synthetic model, trained here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.cli import CLOSED_PIPE, main
from trustshield.model_folder import save_model


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A model folder, a spec file, a data file and a store holding its alerts."""
    root = tmp_path_factory.mktemp("inputs")
    frame = small_flows(0)
    save_model(train_small(frame, SMALL_SPEC, SMALL_SPEC_TEXT), root / "model")
    (root / "spec.yaml").write_text(SMALL_SPEC_TEXT)
    frame.sample(frac=1.0, random_state=1).to_csv(root / "flows.csv", index=False)
    store = root / "alerts.duckdb"
    args = ["--model", str(root / "model"), "--data", str(root / "flows.csv")]
    assert main(["detect", *args, "--store", str(store)]) == 0
    return root


def header_only(folder, tmp_path):
    path = tmp_path / "head.csv"
    path.write_text((folder / "flows.csv").read_text().splitlines()[0] + "\n")
    return path


@pytest.mark.parametrize("command", ["train", "evaluate", "detect", "report"])
def test_a_header_without_rows_is_one_clear_line_for_every_command(
    folder, tmp_path, capsys, command
):
    data = str(header_only(folder, tmp_path))
    model = ["--model", str(folder / "model")]
    args = {
        "train": ["--spec", str(folder / "spec.yaml"), "--out", str(tmp_path / "m")],
        "evaluate": model,
        "detect": [*model, "--store", str(tmp_path / "s.duckdb")],
        "report": [*model, "--out", str(tmp_path / "r")],
    }[command]
    assert main([command, "--data", data, *args]) == 1
    err = capsys.readouterr().err
    assert err == f"trustshield: error: {data}: no data rows after the header\n"


def run_piped(command: list[str], reader: str) -> tuple[subprocess.CompletedProcess, str]:
    """``trustshield COMMAND | python -c READER``: the writer's result and what the reader read."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "trustshield.cli", *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    read = subprocess.run(
        [sys.executable, "-c", reader], stdin=writer.stdout, capture_output=True, text=True
    )
    writer.stdout.close()
    err = writer.stderr.read().decode()
    writer.wait(timeout=60)
    return subprocess.CompletedProcess(writer.args, writer.returncode, "", err), read.stdout


def first_alert(folder) -> str:
    import duckdb

    with duckdb.connect(str(folder / "alerts.duckdb"), read_only=True) as db:
        return db.execute("SELECT alert_id FROM alerts ORDER BY alert_id LIMIT 1").fetchone()[0]


def test_a_reader_that_stops_after_one_line_leaves_no_traceback(folder):
    explain = ["explain", first_alert(folder), "--store", str(folder / "alerts.duckdb"), "--json"]
    # the reader takes one line and exits; the writer is still writing (or about to flush)
    writer, _ = run_piped(explain, "import sys; sys.stdin.readline()")
    assert "Traceback" not in writer.stderr and "BrokenPipeError" not in writer.stderr
    assert writer.stderr == "" and writer.returncode in (0, CLOSED_PIPE)


def test_a_reader_that_reads_everything_gets_the_whole_json(folder):
    alert = first_alert(folder)
    explain = ["explain", alert, "--store", str(folder / "alerts.duckdb"), "--json"]
    writer, text = run_piped(explain, "import sys; sys.stdout.write(sys.stdin.read())")
    assert writer.returncode == 0 and writer.stderr == ""
    assert json.loads(text)["alert_id"] == alert


def test_a_pipe_closed_before_anything_is_written_exits_141_quietly(folder):
    explain = ["explain", first_alert(folder), "--store", str(folder / "alerts.duckdb"), "--json"]
    writer, _ = run_piped(explain, "import os; os.close(0)")  # reader gone at once
    assert writer.stderr == "" and writer.returncode in (0, CLOSED_PIPE)
