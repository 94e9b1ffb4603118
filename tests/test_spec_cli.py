"""`trustshield spec draft` and `trustshield spec check` on small tables written in the test."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml

from trustshield.cli import main
from trustshield.specs import load_spec


@pytest.fixture
def flows_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "duration": rng.integers(0, 50, n),
            "bytes": rng.integers(10, 5000, n),
            "err_rate": np.round(rng.uniform(0, 1, n), 2),
            "mean_size": np.round(rng.uniform(1, 900, n), 3),
            "syn": rng.integers(0, 2, n),
            "proto": rng.choice(["tcp", "udp", "icmp"], n),
            "conn_id": [f"C{i:05d}x" for i in range(n)],
            "label": rng.choice(["benign", "neptune", "satan"], n, p=[0.6, 0.3, 0.1]),
        }
    )
    path = tmp_path / "flows.csv"
    frame.to_csv(path, index=False)
    return path


def run(capsys, *argv):
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_draft_infers_types_ranges_categories_label_and_marks_attacker_for_review(
    flows_csv, tmp_path, capsys
):
    out = tmp_path / "draft.yaml"
    status, printed, _ = run(capsys, "spec", "draft", "--data", str(flows_csv), "--out", str(out))
    assert status == 0 and "drafted spec written" in printed
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file
    spec = load_spec(out)
    column = {c.name: c for c in spec.columns}
    assert column["duration"].type == "integer" and column["bytes"].min >= 10
    assert column["err_rate"].type == "rate" and column["err_rate"].decimals == 2
    assert column["mean_size"].type == "real" and column["mean_size"].decimals == 3
    assert column["syn"].type == "binary"
    assert column["proto"].values == ("icmp", "tcp", "udp")
    assert column["conn_id"].role == "metadata"
    assert spec.label_column == "label" and spec.normal_label == "benign"
    assert all(c.needs_review and c.attacker == "fixed" for c in spec.features)
    text = out.read_text()
    assert text.startswith("# ") and "attacker: review" in text
    assert "neptune" in text  # the label values to map are listed for the reviewer


def test_draft_refuses_to_replace_a_file_unless_forced(flows_csv, tmp_path, capsys):
    out = tmp_path / "draft.yaml"
    out.write_text("keep me", encoding="utf-8")
    status, _, err = run(capsys, "spec", "draft", "--data", str(flows_csv), "--out", str(out))
    assert status == 1 and "--force" in err and out.read_text() == "keep me"
    status, _, _ = run(
        capsys, "spec", "draft", "--data", str(flows_csv), "--out", str(out), "--force"
    )
    assert status == 0 and load_spec(out).name == "flows"


def test_draft_prints_yaml_without_out_and_takes_a_label_argument(flows_csv, capsys):
    status, printed, _ = run(capsys, "spec", "draft", "--data", str(flows_csv), "--label", "proto")
    assert status == 0
    document = yaml.safe_load(printed)
    assert document["label"] == {"column": "proto", "normal": document["label"]["normal"]}
    status, _, err = run(capsys, "spec", "draft", "--data", str(flows_csv), "--label", "nope")
    assert status == 1 and "'nope'" in err


def test_a_drafted_spec_accepts_the_data_it_was_drafted_from(flows_csv, tmp_path, capsys):
    out = tmp_path / "draft.yaml"
    run(capsys, "spec", "draft", "--data", str(flows_csv), "--out", str(out))
    status, printed, _ = run(
        capsys, "spec", "check", "--spec", str(out), "--data", str(flows_csv), "--json"
    )
    summary = json.loads(printed)
    assert status == 0 and summary["valid"] and summary["data"]["rejected_rows"] == 0
    assert summary["data"]["rows"] == 120 and len(summary["needs_review"]) == 6


SPEC = """\
name: checked
columns:
  - {name: bytes, type: integer, min: 0, max: 1000, not_in: [13]}
  - {name: packets, type: integer, min: 1}
  - {name: mean, type: real, min: 0}
  - {name: proto, type: categorical, values: [6, 17]}
  - {name: label, type: label}
relations:
  - {name: mean size, expression: "mean = bytes / packets", tolerance: 0.01}
label:
  column: label
  normal: normal
  categories:
    DoS: {technique: T1499, attacks: [neptune]}
    Odd: {attacks: [weird]}
techniques: {T1499: Endpoint Denial of Service}
"""
ROWS = [
    "bytes,packets,mean,proto,label",
    "100,4,25,6,normal",  # line 2 ok
    "2000,4,500,6,normal",  # line 3: bytes out of range
    "100,4,30,17.0,neptune",  # line 4: breaks mean size
    "13,1,13,6,normal",  # line 5: not_in
    "100,4,25,1,neptun",  # line 6: proto 1 not listed
    "90,3,30,17,neptun",  # line 7 ok, misspelt attack
    "100,4,26,6,normal",  # line 8: breaks mean size
]


@pytest.fixture
def checked_files(tmp_path):
    spec, data = tmp_path / "checked.yaml", tmp_path / "rows.csv"
    spec.write_text(SPEC, encoding="utf-8")
    data.write_text("\n".join(ROWS) + "\n", encoding="utf-8")
    return spec, data


def test_check_counts_rejected_rows_by_reason_with_their_lines(checked_files, capsys):
    spec, data = checked_files
    status, printed, _ = run(
        capsys, "spec", "check", "--spec", str(spec), "--data", str(data), "--json"
    )
    summary = json.loads(printed)
    assert status == 1 and summary["valid"]
    assert summary["data"]["rows"] == 7 and summary["data"]["rejected_rows"] == 5
    reasons = {(r["column"], r["rows"]): r["first_lines"] for r in summary["data"]["reasons"]}
    assert reasons == {
        ("mean+bytes+packets", 2): [4, 8],
        ("bytes", 2): [3, 5],
        ("proto", 1): [6],
    }
    assert summary["labels"]["unlisted"] == [
        {"label": "neptun", "rows": 1, "did_you_mean": "neptune"}
    ]
    assert any("did you mean 'neptune'" in w for w in summary["warnings"])


def test_check_prints_a_readable_summary(checked_files, capsys):
    spec, data = checked_files
    status, printed, _ = run(capsys, "spec", "check", "--spec", str(spec), "--data", str(data))
    assert status == 1
    assert "7 rows read, 5 rejected" in printed
    assert "2 row(s): column 'mean+bytes+packets'" in printed and "lines 4, 8" in printed
    assert "warning: label 'neptun'" in printed
    assert "note: 2 listed attack(s) do not occur in this data: neptune, weird" in printed


def test_check_of_a_spec_alone_and_of_a_broken_spec(checked_files, tmp_path, capsys):
    spec, _ = checked_files
    status, printed, _ = run(capsys, "spec", "check", "--spec", str(spec))
    assert status == 0 and "valid; 5 columns, 4 features, 1 relations" in printed
    broken = tmp_path / "broken.yaml"
    broken.write_text(SPEC.replace("bytes / packets", "bytes / pakets"), encoding="utf-8")
    status, printed, _ = run(capsys, "spec", "check", "--spec", str(broken), "--json")
    summary = json.loads(printed)
    assert status == 1 and summary["valid"] is False
    assert "mean size" in summary["errors"][0] and "'pakets'" in summary["errors"][0]
    status, _, err = run(capsys, "spec", "check", "--spec", str(broken))
    assert status == 1 and "'pakets'" in err


def test_train_stops_on_an_unlisted_label_when_the_map_is_closed(checked_files, tmp_path, capsys):
    spec, data = checked_files
    closed = tmp_path / "closed.yaml"
    closed.write_text(SPEC.replace("  normal: normal\n", "  normal: normal\n  closed: true\n"))
    status, _, err = run(
        capsys,
        "train",
        "--data",
        str(data),
        "--spec",
        str(closed),
        "--out",
        str(tmp_path / "model"),
        "--on-error",
        "skip",
    )
    assert status == 1 and "label.closed is true" in err and "did you mean 'neptune'" in err
    assert not (tmp_path / "model").exists()


def test_draft_and_check_take_positional_paths_and_the_normal_label(tmp_path, capsys):
    table = tmp_path / "t.csv"
    table.write_text("a,verdict\n1,ok\n2,bad\n3,ok\n4,ok\n5,bad\n")
    out = tmp_path / "t.yaml"
    draft = ["spec", "draft", str(table), "--label", "verdict", "--out", str(out)]
    assert main([*draft, "--normal", "bad"]) == 0
    assert yaml.safe_load(out.read_text())["label"]["normal"] == "bad"
    capsys.readouterr()
    assert main(["spec", "check", str(out), str(table), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] and summary["data"]["rows"] == 5
    assert main([*draft, "--normal", "fine", "--force"]) == 1
    assert "--normal 'fine' never occurs in label column 'verdict'" in capsys.readouterr().err


def test_a_row_number_column_is_drafted_as_metadata_and_a_shuffled_count_is_not(tmp_path):
    table = tmp_path / "t.csv"
    pd.DataFrame(
        {"row": [4, 2, 1, 3, 5, 6], "count": [1, 3, 5, 7, 9, 11], "label": ["n"] * 3 + ["a"] * 3}
    ).to_csv(table, index=False)
    out = tmp_path / "t.yaml"
    assert main(["spec", "draft", str(table), "--normal", "n", "--out", str(out)]) == 0
    columns = {c["name"]: c for c in yaml.safe_load(out.read_text())["columns"]}
    assert columns["row"]["role"] == "metadata" and "attacker" not in columns["row"]
    assert "role" not in columns["count"] and columns["count"]["attacker"] == "review"


def test_metadata_columns_are_drafted_as_such_and_a_wrong_name_is_refused(
    flows_csv, tmp_path, capsys
):
    out = tmp_path / "m.yaml"
    draft = ["spec", "draft", str(flows_csv), "--label", "label", "--out", str(out)]
    assert main([*draft, "--metadata", "duration, proto"]) == 0
    spec = load_spec(out)
    column = {c.name: c for c in spec.columns}
    assert column["duration"].role == "metadata" and column["proto"].role == "metadata"
    assert {"duration", "proto"}.isdisjoint(spec.feature_names)
    assert "bytes" in spec.feature_names
    capsys.readouterr()
    assert main(["spec", "check", str(out), str(flows_csv), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["data"]["rejected_rows"] == 0
    assert main([*draft, "--force", "--metadata", "durations"]) == 1
    assert "--metadata ['durations']: not a column of the table" in capsys.readouterr().err
    assert main([*draft, "--force", "--metadata", "label"]) == 1
    assert "the label column cannot be metadata" in capsys.readouterr().err
