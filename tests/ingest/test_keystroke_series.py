"""Per-key series (zero-padded, one series per column) summarised into documented features,
one row per typing; files are synthetic, written by each test."""

import json

import numpy as np
import pandas as pd
import pytest

from trustshield.cli import main
from trustshield.errors import DataError
from trustshield.ingest.keystroke_series import (
    SUMMARIES,
    read_series_samples,
    read_series_table,
    series_spec,
)
from trustshield.store.templates import KEY_ENV, new_template_key


def padded(series: dict[str, list[float]]) -> pd.DataFrame:
    """Columns of different lengths, padded with zeros to the longest."""
    longest = max(len(v) for v in series.values())
    return pd.DataFrame({k: list(v) + [0.0] * (longest - len(v)) for k, v in series.items()})


def typing_rows(subject: str, typing: int, series: dict[str, list[float]]) -> pd.DataFrame:
    frame = padded(series)
    frame.insert(0, "typing", typing)
    frame.insert(0, "subject", subject)
    return frame


def expected(values: list[float]) -> dict:
    v = np.array(values)
    return {"n": len(v), "mean": v.mean(), "sd": v.std(), "min": v.min(), "max": v.max()}


def test_each_series_becomes_its_documented_summaries(tmp_path):
    first = {"Pressure t": [0.2, 0.35, 0.3], "Pressure i": [0.1, 0.0, 0.25, 0.2, 0.15]}
    second = {"Pressure t": [0.4], "Pressure i": [0.3, 0.3]}
    rows = pd.concat([typing_rows("s1", 1, first), typing_rows("s1", 2, second)])
    path = tmp_path / "series.csv"
    rows.to_csv(path, index=False)
    table = read_series_table(path)
    assert list(table.columns) == [
        "subject",
        *[f"{s} {k}" for s in ("Pressure t", "Pressure i") for k, *_ in SUMMARIES],
    ]
    assert len(table) == 2 and table["subject"].tolist() == ["s1", "s1"]
    for row, typing in enumerate((first, second)):
        for name, values in typing.items():
            for statistic, value in expected(values).items():
                assert table.loc[row, f"{name} {statistic}"] == pytest.approx(value)
    # the zero inside the second series of the first typing is a reading, not padding
    assert table.loc[0, "Pressure i n"] == 5 and table.loc[0, "Pressure i min"] == 0.0


def test_every_feature_made_is_described_by_the_spec(tmp_path):
    path = tmp_path / "one.csv"
    padded({"Hold a": [80.0, 81.0], "Hold b": [90.0]}).to_csv(path, index=False)
    table = read_series_table(path)  # no typing column: the whole file is one typing
    spec = series_spec(["Hold a", "Hold b"])
    assert len(table) == 1 and tuple(table.columns) == spec.feature_names
    for column in spec.features:
        assert column.description and column.unit and column.attacker == "any"
    assert spec.column("Hold b n").type == "integer" and spec.column("Hold b sd").min == 0.0


def test_a_series_with_no_reading_makes_its_typing_malformed(tmp_path):
    path = tmp_path / "empty.csv"
    rows = pd.concat(
        [
            typing_rows("s1", 1, {"Hold a": [80.0], "Hold b": [0.0]}),
            typing_rows("s1", 2, {"Hold a": [82.0], "Hold b": [91.0]}),
        ]
    )
    rows.to_csv(path, index=False)
    samples = read_series_samples(path)
    assert "subject" not in samples.columns
    assert samples.loc[0, "Hold b n"] == 0 and np.isnan(samples.loc[0, "Hold b mean"])
    assert np.isfinite(samples.iloc[1].to_numpy()).all()


def test_values_that_are_not_numbers_are_named_by_row_and_column(tmp_path):
    frame = typing_rows("s1", 1, {"Hold a": [80.0, 81.0], "Hold b": [90.0, 91.0]}).astype(
        {"Hold b": object}
    )
    frame.iloc[1, 3] = "oops"
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match="row 2, column 'Hold b': expected a finite number") as info:
        read_series_table(path)
    assert "oops" not in str(info.value)


def test_a_typing_belongs_to_one_subject(tmp_path):
    rows = pd.concat(
        [typing_rows("s1", 1, {"Hold a": [80.0]}), typing_rows("s2", 1, {"Hold a": [85.0]})]
    )
    path = tmp_path / "mixed.csv"
    rows.to_csv(path, index=False)
    with pytest.raises(DataError, match="typing starting at row 1 has rows of 2 subjects"):
        read_series_table(path)


def synthetic_series(n_subjects=10, n_typings=31, seed=0) -> pd.DataFrame:
    """Each subject presses three keys; each press is a pressure series of 3 to 8 readings
    around the subject's own level."""
    rng = np.random.default_rng(seed)
    parts = []
    for s in range(n_subjects):
        level = rng.uniform(0.2, 0.8, 3)
        for t in range(n_typings):
            series = {
                f"Pressure {k}": list(
                    np.clip(level[i] + rng.normal(0, 0.05, rng.integers(3, 9)), 0.01, None)
                )
                for i, k in enumerate("abc")
            }
            parts.append(typing_rows(f"s{s + 1}", s * 1000 + t, series))
    return pd.concat(parts, ignore_index=True)


def test_series_enrol_and_verify_through_their_own_verifier_kind(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(KEY_ENV, new_template_key())
    rows = synthetic_series(n_subjects=3, n_typings=12)
    me, other = rows[rows.subject == "s1"], rows[rows.subject == "s2"]
    typings = me["typing"].drop_duplicates().tolist()
    paths = {name: tmp_path / f"{name}.csv" for name in ("enrol", "genuine", "impostor")}
    me[me.typing.isin(typings[:8])].to_csv(paths["enrol"], index=False)
    me[me.typing.isin(typings[8:11])].to_csv(paths["genuine"], index=False)
    other[other.typing.isin(other.typing.drop_duplicates()[:3])].to_csv(
        paths["impostor"], index=False
    )
    where = ["--store", str(tmp_path / "ts.duckdb"), "--templates", str(tmp_path / "t")]
    assert (
        main(
            [
                "enrol",
                "--user",
                "ann",
                "--kind",
                "keystroke-series",
                "--no-prior",
                "--data",
                str(paths["enrol"]),
                *where,
            ]
        )
        == 0
    )
    assert "from 8 samples of 15 features" in capsys.readouterr().out
    decisions = {}
    for name in ("genuine", "impostor"):
        capsys.readouterr()
        assert main(["verify", "--user", "ann", "--data", str(paths[name]), "--json", *where]) == 0
        decisions[name] = json.loads(capsys.readouterr().out)
    assert len(decisions["genuine"]["scores"]) == 3
    assert max(decisions["genuine"]["scores"]) < min(decisions["impostor"]["scores"])


def test_a_series_table_is_benchmarked_after_its_summaries(tmp_path):
    path, out = tmp_path / "series.csv", tmp_path / "bench.json"
    synthetic_series(n_subjects=8, n_typings=10).to_csv(path, index=False)
    assert (
        main(
            [
                "benchmark",
                "keystroke",
                "--data",
                str(path),
                "--series",
                "--subject",
                "subject",
                "--enrol",
                "5",
                "--genuine-typings",
                "5",
                "--quick",
                "--json-file",
                str(out),
            ]
        )
        == 0
    )
    figures = json.loads(out.read_text())
    assert figures["data"]["features"] == 15 and figures["data"]["typings"] == 80
    assert 0 <= figures["ours"]["mean"] <= 1
