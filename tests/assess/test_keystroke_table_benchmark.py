"""trustshield benchmark keystroke --data TABLE --subject COLUMN --enrol N
--impostor-typings K: the same protocol, detectors and splits on any keystroke table."""

import json

import numpy as np
import pandas as pd
import pytest

from keystroke_typings import population
from trustshield.assess.keystroke import baseline_factory, run_protocol
from trustshield.cli import main
from trustshield.detectors.keystroke import BASELINES
from trustshield.errors import DataError, DatasetMissing
from trustshield.ingest.keystroke import load_keystroke_data
from trustshield.ingest.keystroke_table import read_keystroke_table


@pytest.fixture(scope="module")
def other_population(tmp_path_factory):
    """A population unlike MEU's file: 16 of its subjects, their first 12 typings only, ten
    timing columns renamed, another subject column; written at test time, never stored."""
    try:
        data = load_keystroke_data()
    except DatasetMissing as exc:
        pytest.skip(f"real MEU-Mobile KSD data not available ({exc})")
    subjects = list(dict.fromkeys(data.frame[data.subject_column]))[:16]
    timings = [n for n in data.feature_names if n.startswith(("DD ", "UD "))][:10]
    frame = data.frame[data.frame[data.subject_column].isin(subjects)]
    frame = frame.groupby(data.subject_column, sort=False).head(12)
    table = pd.DataFrame({"user_id": "u" + frame[data.subject_column].astype(str)})
    for k, name in enumerate(timings):
        table[f"lat{k}"] = frame[name].to_numpy()
    path = tmp_path_factory.mktemp("population") / "typings.csv"
    table.to_csv(path, index=False)
    return path, table


def test_the_benchmark_runs_the_same_protocol_on_any_table(other_population, tmp_path, capsys):
    path, table = other_population
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "benchmark",
                "keystroke",
                "--data",
                str(path),
                "--subject",
                "user_id",
                "--enrol",
                "5",
                "--impostor-typings",
                "5",
                "--genuine-typings",
                "7",
                "--quick",
                "--json-file",
                str(out),
            ]
        )
        == 0
    )
    figures = json.loads(out.read_text())
    assert figures["typings"] == {"n_enrol": 5, "n_genuine": 7, "n_impostor": 5}
    assert figures["data"] == {
        "file": "typings.csv",
        "sha256": figures["data"]["sha256"],
        "typings": 16 * 12,
        "subjects": 16,
        "features": 10,
    }
    assert "first 5 typings; genuine tests are its next 7" in figures["protocol"]
    assert set(figures["baselines"]) == set(BASELINES)
    assert len(figures["per_subject"]["TrustShield keystroke verifier"]) == 16
    best = figures["baselines"][figures["best_baseline"]]["mean"]
    assert figures["ratio"] == pytest.approx(figures["ours"]["mean"] / best)
    # the classic detectors are measured exactly as the protocol measures them directly
    frame = pd.read_csv(path)
    direct = run_protocol(
        frame,
        baseline_factory(BASELINES["Outlier count (z-score)"]),
        subject_column="user_id",
        n_enrol=5,
        n_genuine=7,
        n_impostor=5,
    )
    assert figures["baselines"]["Outlier count (z-score)"]["mean"] == pytest.approx(direct.mean)
    assert figures["split"]["A"][:2] == ["u1", "u3"]
    assert "ratio to the best baseline" in capsys.readouterr().out


def write(tmp_path, frame, name="t.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_a_table_too_short_for_the_protocol_is_refused_naming_the_flags(tmp_path, capsys):
    path = write(tmp_path, population(n_subjects=8, n_typings=10))
    assert (
        main(["benchmark", "keystroke", "--data", str(path), "--subject", "Subject", "--quick"])
        == 1
    )
    error = capsys.readouterr().err
    assert (
        "at least 26 typings each (--enrol 25, then at least 1 genuine (--genuine-typings)"
    ) in error
    assert "subject s1 has 10 typings" in error


def test_the_table_needs_its_subject_column_named(tmp_path, capsys):
    path = write(tmp_path, population(n_subjects=8, n_typings=12))
    assert main(["benchmark", "keystroke", "--data", str(path), "--enrol", "5"]) == 1
    assert "--data needs --subject" in capsys.readouterr().err
    assert (
        main(["benchmark", "keystroke", "--data", str(path), "--subject", "user", "--enrol", "5"])
        == 1
    )
    assert "no subject column 'user'" in capsys.readouterr().err


def test_a_value_that_is_not_a_number_is_named_by_row_and_column(tmp_path):
    frame = population(n_subjects=4, n_typings=6).astype({"DD i.e": object})
    frame.loc[7, "DD i.e"] = "slow"
    bad = r"row 8, column 'DD i.e': expected a finite number"
    with pytest.raises(DataError, match=bad) as info:
        read_keystroke_table(write(tmp_path, frame), subject_column="Subject")
    assert "slow" not in str(info.value)
    frame.loc[7, "DD i.e"] = np.nan
    with pytest.raises(DataError, match="row 8"):
        read_keystroke_table(write(tmp_path, frame), subject_column="Subject")


def test_a_table_keeps_the_file_order_of_each_subjects_typings(tmp_path):
    frame = population(n_subjects=4, n_typings=6)
    data = read_keystroke_table(write(tmp_path, frame), subject_column="Subject")
    assert data.feature_names == tuple(frame.columns[1:])
    assert data.frame["Subject"].tolist() == frame["Subject"].tolist()
    np.testing.assert_array_equal(data.features.to_numpy(), frame.iloc[:, 1:].to_numpy())
