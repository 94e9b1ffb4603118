"""The command line's conventions, on a small synthetic model trained here: --version and
shell completion; --json prints JSON on standard output on every command that reports
(files are written with --out or --json-file; the old `--json PATH` still writes and
warns); nothing wrapped or cut when standard output is not a terminal; "did you mean" for
commands, choices, data sets and specs; commands that only read never create a store; a
re-run of detect adds nothing."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield import __version__
from trustshield.cli import UNWRAPPED, help_width, main
from trustshield.commands.common import resolve_data
from trustshield.errors import DataError, SpecError, did_you_mean
from trustshield.model_folder import save_model
from trustshield.specs import read_spec_text


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A model folder, a spec file, data of :data:`ROWS` records (two drift windows of 500)
    and the same data with one bad row at line 4."""
    root = tmp_path_factory.mktemp("conventions")
    save_model(train_small(small_flows(0), SMALL_SPEC, SMALL_SPEC_TEXT), root / "model")
    (root / "spec.yaml").write_text(SMALL_SPEC_TEXT)
    flows().to_csv(root / "flows.csv", index=False)
    lines = (root / "flows.csv").read_text().splitlines()
    header, first = lines[0].split(","), lines[3].split(",")
    first[header.index("p")] = "sctp"  # not one of the spec's protocols
    lines[3] = ",".join(first)
    (root / "bad.csv").write_text("\n".join(lines) + "\n")
    return root


def flows():
    return small_flows(2, n_normal=900, n_flood=200, n_scan=100)


ROWS = 1200


def run_json(capsys, argv: list[str]):
    """``main(argv)``'s status and its standard output read as one JSON document."""
    capsys.readouterr()
    status = main(argv)
    return status, json.loads(capsys.readouterr().out)


def cli(*argv: str, cwd: Path | None = None, env: dict | None = None):
    """``trustshield ARGV`` in a child process, standard output a pipe (not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "trustshield.cli", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def count(store: Path, sql: str) -> int:
    with duckdb.connect(str(store), read_only=True) as db:
        return db.execute(sql).fetchone()[0]


# --- version and completion -----------------------------------------------------------------


def test_version_is_printed_and_exits_zero(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"trustshield {__version__}"


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_completion_scripts_name_every_command_and_parse(shell, capsys, tmp_path):
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    for command in ("detect", "explain", "alerts", "incidents", "completion"):
        assert command in script
    assert "--store" in script and "--json" in script
    binary = shutil.which(shell)
    if binary is None:
        pytest.skip(f"{shell} is not installed")
    path = tmp_path / f"completion.{shell}"
    path.write_text(script)
    checked = subprocess.run([binary, "-n", str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


def test_bash_completes_a_command_and_a_subcommand(capsys, tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    assert main(["completion", "bash"]) == 0
    path = tmp_path / "completion.bash"
    path.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        line = " ".join(("trustshield", *words))
        script = (
            f"source {path}; COMP_WORDS=(trustshield {' '.join(words)}); "
            f"COMP_CWORD={len(words)}; COMP_LINE='{line}'; COMP_POINT={len(line)}; "
            '_shtab_trustshield; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True)
        return done.stdout.split()

    assert complete("det") == ["detect"]
    assert complete("alerts", "ex") == ["export"]


# --- --json prints, --json-file writes ------------------------------------------------------


def test_detect_json_is_the_run_and_a_rerun_adds_nothing(folder, tmp_path, capsys):
    store = tmp_path / "s.duckdb"
    argv = ["detect", "--model", str(folder / "model"), "--data", str(folder / "bad.csv")]
    argv += ["--store", str(store), "--on-error", "skip", "--drift-window", "500", "--json"]
    status, first = run_json(capsys, argv)
    assert status == 0
    run = first["run"]
    assert run["status"] == "complete" and run["rows_read"] == ROWS
    assert run["alerts_added"] == count(store, "SELECT count(*) FROM alerts") > 0
    assert run["rejected_rows"] == 1 and first["store"] == str(store)
    assert first["explain"] == f"trustshield explain {first['first_alert']} --store {store}"
    tables = ("alerts", "drift_events", "rejected_rows", "reviews")
    before = {t: count(store, f"SELECT count(*) FROM {t}") for t in tables}
    assert before["drift_events"] >= 2 and before["rejected_rows"] == 1
    status, again = run_json(capsys, argv)
    assert status == 0 and again["run"]["run_id"] != run["run_id"]
    assert again["run"]["alerts_added"] == again["run"]["reviews_added"] == 0
    assert again["first_alert"] is None and again["explain"] is None
    assert {t: count(store, f"SELECT count(*) FROM {t}") for t in tables} == before


def test_train_json_names_the_model_it_wrote(folder, tmp_path, capsys):
    out = tmp_path / "m"
    argv = ["train", "--data", str(folder / "flows.csv"), "--spec", str(folder / "spec.yaml")]
    status, printed = run_json(capsys, [*argv, "--out", str(out), "--capacity", "fixed", "--json"])
    manifest = json.loads((out / "manifest.json").read_text())
    assert status == 0 and printed["model_id"] == manifest["model_id"]
    assert printed["folder"] == str(out) and printed["rows_read"] == ROWS
    state = json.loads((out / "model.json").read_text())["training"]["selection"]
    assert printed["selection"]["normal_fpr"] == state["normal_fpr"]


def test_evaluate_json_prints_and_json_file_writes_the_same_figures(folder, tmp_path, capsys):
    written = tmp_path / "figures.json"
    argv = ["evaluate", "--model", str(folder / "model"), "--data", str(folder / "flows.csv")]
    status, printed = run_json(capsys, [*argv, "--json", "--json-file", str(written)])
    assert status == 0
    stored = json.loads(written.read_text())
    assert printed["metrics"] == stored["metrics"] and "accuracy" in printed["metrics"]


def test_the_old_json_path_still_writes_the_file_and_warns(folder, tmp_path, capsys):
    written = tmp_path / "old.json"
    argv = ["evaluate", "--model", str(folder / "model"), "--data", str(folder / "flows.csv")]
    capsys.readouterr()
    assert main([*argv, "--json", str(written)]) == 0
    shown = capsys.readouterr()
    assert "accuracy" in shown.out and not shown.out.lstrip().startswith("{")  # text, as before
    assert (
        f"`--json {written}` is deprecated" in shown.err and f"--json-file {written}" in shown.err
    )
    assert "metrics" in json.loads(written.read_text())


def test_report_json_names_the_files_and_the_headline_figures(folder, tmp_path, capsys):
    out = tmp_path / "report"
    argv = ["report", "--model", str(folder / "model"), "--data", str(folder / "flows.csv")]
    status, printed = run_json(capsys, [*argv, "--out", str(out), "--no-pdf", "--json"])
    twin = json.loads((out / "report.json").read_text())
    assert status == 0 and printed["files"]["json"] == str(out / "report.json")
    assert printed["files"]["pdf"] is None and printed["model_id"] == twin["model"]["model_id"]
    assert printed["metrics"] == twin["metrics"]
    assert sum(printed["evidence"].values()) == len(twin["evidence"])


# --- not a terminal: whole lines --------------------------------------------------------------


def test_help_and_results_are_not_wrapped_when_stdout_is_a_pipe(folder, tmp_path):
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "store.duckdb"
    env = {"COLUMNS": "40"}  # a narrow terminal elsewhere must not matter to a pipe
    shown = cli("detect", "--model", str(folder / "model"), "--data", str(folder / "flows.csv"),
                "--store", str(deep), env=env)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    [suggestion] = [line for line in shown.stdout.splitlines() if "trustshield explain" in line]
    assert suggestion.endswith(f"--store {deep}") and len(suggestion) > 120
    helped = cli("detect", "--help", env=env).stdout.splitlines()
    [fmt] = [line for line in helped if line.lstrip().startswith("input format (default")]
    assert fmt.rstrip().endswith("for models trained on NSL-KDD")  # one line, not wrapped
    top = cli("--help", env=env).stdout
    [line] = [x for x in top.splitlines() if x.strip().startswith("redteam ")]
    assert line.rstrip().endswith("audited)")  # the whole help text on its one line


def on_terminal(*argv: str, columns: int) -> str:
    """What ``trustshield ARGV`` writes to a terminal ``columns`` wide (a pseudo-terminal;
    no colours), line ends as ``\\n``."""
    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-m", "trustshield.cli", *argv],
        stdout=slave,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert process.wait(timeout=300) == 0
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", b"".join(chunks).decode()).replace("\r\n", "\n")


def test_on_a_terminal_help_wraps_at_its_width_and_a_suggested_command_has_no_break(
    folder, tmp_path
):
    helped = on_terminal("detect", "--help", columns=60)
    options = helped[helped.index("options:") :].splitlines()  # usage tokens cannot be cut
    assert max(len(line) for line in options) <= 60 and len(options) > 40
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "store.duckdb"
    data = ["--model", str(folder / "model"), "--data", str(folder / "flows.csv")]
    shown = on_terminal("detect", *data, "--store", str(deep), columns=60)
    # the terminal folds the long line for display; the text itself holds the whole command
    assert re.search(r"trustshield explain \S+ --store " + re.escape(str(deep)), shown)


def test_help_width_is_the_terminals_only_on_a_terminal(monkeypatch):
    class Stream(io.StringIO):
        def __init__(self, tty: bool):
            super().__init__()
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.setenv("COLUMNS", "60")
    assert help_width(Stream(True)) == 58
    assert help_width(Stream(False)) == UNWRAPPED


# --- did you mean -------------------------------------------------------------------------


def test_a_misspelt_command_or_choice_names_the_closest(capsys):
    with pytest.raises(SystemExit):
        main(["detcet"])
    err = capsys.readouterr().err
    assert "invalid choice: 'detcet' (did you mean 'detect'?)" in err
    with pytest.raises(SystemExit):
        main(["alerts", "export", "--format", "ecss"])
    assert "(did you mean 'ecs'?)" in capsys.readouterr().err


def test_a_misspelt_data_set_or_file_names_the_closest_not_a_dict():
    with pytest.raises(DataError) as wrong_set:
        resolve_data("nsl-kd:KDDTest+.txt")
    message = str(wrong_set.value)
    assert "no data set 'nsl-kd' (did you mean 'nsl-kdd'?)" in message
    assert "{" not in message and "KDDTrain" not in message
    with pytest.raises(DataError) as wrong_file:
        resolve_data("nsl-kdd:KDDTest.txt")
    assert "(did you mean 'KDDTest+.txt'" in str(wrong_file.value)


def test_a_misspelt_spec_and_data_set_to_fetch_name_the_closest(capsys):
    with pytest.raises(SpecError, match=r"unknown spec 'nsl-kd' \(did you mean 'nsl-kdd'\?\)"):
        read_spec_text("nsl-kd")
    assert main(["datasets", "fetch", "nsl_kdd"]) == 1
    assert "(did you mean 'nsl-kdd'?)" in capsys.readouterr().err


def test_nothing_close_suggests_nothing():
    assert did_you_mean("zzzz", ["detect", "train"]) == ""
    assert did_you_mean("tran", ["detect", "train"]) == " (did you mean 'train'?)"


# --- reading never creates a store ------------------------------------------------------------

READERS = [
    ["explain", "some-alert"],
    ["alerts", "list"],
    ["alerts", "export"],
    ["incidents", "list"],
    ["incidents", "show", "some-incident"],
    ["incidents", "export"],
    ["tokens", "list"],
    ["audit", "verify"],
    ["reviews", "export", "--out", "feedback.jsonl"],
]


@pytest.mark.parametrize("argv", READERS, ids=" ".join)
@pytest.mark.parametrize("named", [True, False], ids=["--store", "default"])
def test_a_command_that_only_reads_names_the_missing_store_and_creates_none(
    argv, named, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRUSTSHIELD_STORE", raising=False)
    missing = tmp_path / "elsewhere.duckdb"
    assert main([*argv, *(["--store", str(missing)] if named else [])]) == 1
    err = capsys.readouterr().err
    assert f"no store at {missing if named else 'trustshield.duckdb'}" in err
    assert err.count("\n") == 1 and "only reads" in err
    assert list(tmp_path.iterdir()) == []  # no store, no output file


def test_report_and_behaviour_training_read_their_store_without_creating_it(
    folder, tmp_path, capsys
):
    missing = tmp_path / "none.duckdb"
    data = ["--model", str(folder / "model"), "--data", str(folder / "flows.csv")]
    for option in ("--store", "--incidents-store"):
        argv = ["report", *data, "--out", str(tmp_path / "r"), "--no-pdf", option, str(missing)]
        assert main(argv) == 1
        assert f"no store at {missing}" in capsys.readouterr().err
    log = tmp_path / "conn.log"
    log.write_text("#fields\tts\n")
    argv = ["train", "--kind", "behaviour", "--input", str(log), "--out", str(tmp_path / "b")]
    assert main([*argv, "--store", str(missing)]) == 1
    assert f"no store at {missing}" in capsys.readouterr().err
    assert not missing.exists() and not (tmp_path / "r").exists()


# --- the README's command reference follows the conventions --------------------------------


def test_the_readme_command_reference_writes_no_file_with_json():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    rows = [line for line in readme.splitlines() if line.startswith("| `trustshield ")]
    assert len(rows) > 20
    assert not [row for row in rows if "--json PATH" in row or "--json FILE" in row]
    for command in ("evaluate", "benchmark keystroke", "benchmark mouse"):
        [row] = [r for r in rows if r.startswith(f"| `trustshield {command} ")]
        assert "[--json] [--json-file PATH]" in row
    for command in ("train", "detect", "report", "assess"):
        assert any(r.startswith(f"| `trustshield {command} ") and "[--json]" in r for r in rows)
    assert any("trustshield completion bash" in r and "--version" in r for r in rows)
