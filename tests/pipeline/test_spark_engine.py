"""The Spark engine gives the local engine's alerts, on real NSL-KDD records.

One SparkSession (``local[2]``) serves the module. Its blocks are made small (96 KB), so a
slice of KDDTest+ arrives in many partitions and line numbering across partitions is
exercised. The model is a quick one trained here on part of KDDTrain+_20Percent. The test
that makes a task fail comes last: a failed task's Python worker is not reused.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from synthetic import train_small
from trustshield.commands.common import resolve_data
from trustshield.errors import DataError
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import save_model
from trustshield.pipeline.detect import detect
from trustshield.pipeline.spark_detect import detect_spark
from trustshield.pipeline.spark_session import spark_session
from trustshield.specs import load_spec, read_spec_text
from trustshield.store import AlertStore

pytestmark = pytest.mark.spark

SLICE_LINES = 3_000
BLOCK_BYTES = 96 * 1024
COMPARED = (
    "action",
    "suspicion",
    "category",
    "technique",
    "component",
    "label",
    "base",
    "rationale",
    "line",
    "model_id",
    "source_sha256",
)


@pytest.fixture(scope="module")
def spark():
    session = spark_session(
        "local[2]",
        config={
            "spark.sql.files.maxPartitionBytes": str(BLOCK_BYTES),
            "spark.sql.files.openCostInBytes": "0",
            "spark.default.parallelism": "2",
        },
    )
    yield session
    session.stop()


@pytest.fixture(scope="module")
def spec():
    return load_spec("nsl-kdd")


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory, spec):
    train = TableSource(resolve_data("nsl-kdd:KDDTrain+_20Percent.txt"), spec).read_all()
    model = train_small(train.iloc[::4].reset_index(drop=True), spec, read_spec_text("nsl-kdd")[0])
    folder = tmp_path_factory.mktemp("spark") / "model"
    save_model(model, folder)
    return folder


@pytest.fixture(scope="module")
def data(tmp_path_factory, spec):
    """A slice of KDDTest+ as CSV (with a blank line inside) and as Parquet with small row
    groups."""
    folder = tmp_path_factory.mktemp("spark-data")
    lines = resolve_data("nsl-kdd:KDDTest+.txt").read_text().splitlines()[:SLICE_LINES]
    lines.insert(1000, "")
    csv_path = folder / "slice.csv"
    csv_path.write_text("\n".join(lines) + "\n")
    frame = pd.read_csv(csv_path, header=None, names=list(spec.column_names))
    parquet_path = folder / "slice.parquet"
    frame.to_parquet(parquet_path, row_group_size=300)
    return {"csv": csv_path, "parquet": parquet_path}


def local_alerts(model_folder, path, tmp_path, on_error="raise") -> tuple[pd.DataFrame, dict]:
    from trustshield.model_folder import load_model

    model = load_model(model_folder)
    with AlertStore(tmp_path / "local.duckdb") as store:
        run = detect(model, TableSource(path, model.spec, on_error=on_error), store)
        return store.alerts(run_id=run.run_id).set_index("alert_id"), run


def spark_alerts(out) -> pd.DataFrame:
    return pq.read_table(out).to_pandas().set_index("alert_id")


def assert_same_alerts(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert len(expected) > 100 and set(expected.action) >= {"alert"}
    assert set(got.index) == set(expected.index)
    got = got.loc[expected.index]
    for column in COMPARED:
        assert got[column].tolist() == expected[column].tolist(), column
    for column in ("attributions", "feature_values"):  # exact: bit for bit
        np.testing.assert_array_equal(
            np.stack(got[column].to_numpy()), np.stack(expected[column].to_numpy()), err_msg=column
        )


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_spark_alerts_equal_local_alerts(spark, model_folder, data, kind, tmp_path):
    path = data[kind]
    reader = spark.read.parquet if kind == "parquet" else spark.read.text
    assert reader(str(path)).rdd.getNumPartitions() > 2  # numbering crosses partitions
    expected, run = local_alerts(model_folder, path, tmp_path)
    summary = detect_spark(
        model_folder,
        str(path),
        out=tmp_path / "alerts",
        spark=spark,
        store=tmp_path / "spark.duckdb",
    )
    assert summary["rows_read"] == run.rows_read == SLICE_LINES
    assert summary["alerts"] == len(expected) and summary["rejected_rows"] == 0
    assert_same_alerts(spark_alerts(tmp_path / "alerts"), expected)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".alerts")]  # no staging left
    with AlertStore(tmp_path / "spark.duckdb") as store:  # and the store's copy
        stored = store.run(summary["run_id"])
        assert_same_alerts(store.alerts(run_id=summary["run_id"]).set_index("alert_id"), expected)
    assert (stored.status, stored.rows_read, stored.alerts_added) == (
        "complete",
        SLICE_LINES,
        len(expected),
    )


def with_bad_field(data, tmp_path, line: int) -> tuple:
    """The CSV slice with an unknown service on ``line``."""
    lines = data["csv"].read_text().split("\n")
    fields = lines[line - 1].split(",")
    fields[2] = "no_such_service"
    lines[line - 1] = ",".join(fields)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines))
    return path


def test_the_command_line_runs_the_spark_engine(spark, model_folder, data, tmp_path, capsys):
    from trustshield.cli import main

    store = tmp_path / "cli.duckdb"
    assert (
        main(
            [
                "detect",
                "--engine",
                "spark",
                "--model",
                str(model_folder),
                "--input",
                str(data["csv"]),
                "--out",
                str(tmp_path / "alerts"),
                "--store",
                str(store),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    with AlertStore(store) as opened:
        [run] = opened.db.execute("SELECT rows_read, alerts_added, status FROM runs").fetchall()
    assert run[0] == SLICE_LINES and run[2] == "complete"
    assert run[1] == len(spark_alerts(tmp_path / "alerts")) and f"{SLICE_LINES} rows" in printed
    pcap = tmp_path / "capture.pcap"
    pcap.write_bytes(b"\xd4\xc3\xb2\xa1" + bytes(20))
    assert (
        main(
            [
                "detect",
                "--engine",
                "spark",
                "--model",
                str(model_folder),
                "--input",
                str(pcap),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        == 1
    )
    assert "pcap input is scored with --engine local" in capsys.readouterr().err


def test_skip_counts_the_rejected_row_and_scores_the_rest(spark, model_folder, data, tmp_path):
    path = with_bad_field(data, tmp_path, line=2_345)
    expected, run = local_alerts(model_folder, path, tmp_path, on_error="skip")
    summary = detect_spark(
        model_folder,
        str(path),
        out=tmp_path / "alerts",
        spark=spark,
        on_error="skip",
        store=tmp_path / "spark.duckdb",
    )
    assert summary["rejected_rows"] == run.rejected_rows == 1
    assert summary["rows_read"] == run.rows_read
    assert_same_alerts(spark_alerts(tmp_path / "alerts"), expected)
    assert 2_345 not in set(expected.line)
    with AlertStore(tmp_path / "spark.duckdb") as store:
        rejected = store.db.execute('SELECT line, "column", value FROM rejected_rows').fetchall()
    assert rejected == [(2_345, "service", "no_such_service")]


def test_bad_row_stops_with_the_local_engine_message(spark, model_folder, data, tmp_path):
    path = with_bad_field(data, tmp_path, line=2_345)
    with pytest.raises(DataError) as local:
        local_alerts(model_folder, path, tmp_path)
    with pytest.raises(DataError) as remote:
        detect_spark(model_folder, str(path), out=tmp_path / "alerts", spark=spark)
    assert str(remote.value) == str(local.value)
    assert "line 2345, column 'service'" in str(remote.value)
    assert "no_such_service" in str(remote.value)
    assert not (tmp_path / "alerts").exists()
