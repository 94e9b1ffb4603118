"""AlertStore on a DuckDB file and on PostgreSQL: idempotent, atomic batches, durable."""

from __future__ import annotations

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from database_errors import DATABASE_ERRORS

from trustshield.errors import StoreError
from trustshield.ingest.validate import RowProblem
from trustshield.pipeline.detect import entity_column
from trustshield.records import AlertEntities
from trustshield.store import AlertStore, alert_id
from trustshield.store.entities import SEARCH_COLUMNS

MODEL = "m0123456789abcdef"
SOURCE_SHA = "5" * 64
FEATURES = [
    {"name": "bytes", "type": "integer", "categories": []},
    {"name": "proto", "type": "categorical", "categories": ["icmp", "tcp", "udp"]},
]
RUN = "run-1"
INT64 = pa.int64()


def alerts_table(lines, *, run_id=RUN, model_id=MODEL, line_type=INT64) -> pa.Table:
    """A batch with the columns of the store's ``alerts`` table, one alert per line."""
    n = len(lines)
    values = [float(x) for x in lines]
    return pa.table(
        {
            "alert_id": [alert_id(model_id, SOURCE_SHA, int(x)) for x in lines],
            "run_id": pa.array([run_id] * n, pa.string()),
            "model_id": pa.array([model_id] * n, pa.string()),
            "source_sha256": pa.array([SOURCE_SHA] * n, pa.string()),
            "line": pa.array(
                lines if line_type == pa.int64() else [f"L{x}" for x in lines], line_type
            ),
            "action": pa.array(["alert"] * n, pa.string()),
            "suspicion": pa.array([1.0 + v / 100 for v in values], pa.float64()),
            "category": pa.array(["DoS"] * n, pa.string()),
            "technique": pa.array(["T1499"] * n, pa.string()),
            "component": pa.array(["supervised"] * n, pa.string()),
            "label": pa.array(["flood"] * n, pa.string()),
            "base": pa.array([-0.5] * n, pa.float64()),
            "attributions": pa.FixedSizeListArray.from_arrays(
                pa.array([a for v in values for a in (v / 10, 1.5)], pa.float64()), 2
            ),
            "feature_values": pa.FixedSizeListArray.from_arrays(
                pa.array([x for v in values for x in (float(v), 1.0)], pa.float64()), 2
            ),
            "rationale": pa.array(
                [f"line {int(v)} looks like a flood" for v in values], pa.string()
            ),
            "created_at": pa.array([datetime.now(timezone.utc)] * n, pa.timestamp("us", tz="UTC")),
        }
    )


def with_model_and_run(store: AlertStore, source_path: str = "flows.csv") -> AlertStore:
    """``store`` with the test model (:data:`MODEL`, :data:`FEATURES`) recorded and the
    detect run :data:`RUN` over ``source_path`` started."""
    store.record_model(
        {
            "model_id": MODEL,
            "created_at": "2024-05-01T12:00:00+00:00",
            "spec": "tiny",
            "detector": "hybrid(gbdt, prototype)",
        },
        FEATURES,
    )
    store.start_run(
        run_id=RUN,
        kind="detect",
        model_id=MODEL,
        source_path=source_path,
        source_sha256=SOURCE_SHA,
    )
    return store


def problems(*lines_and_columns) -> list[RowProblem]:
    return [
        RowProblem("flows.csv", line, column, "x", "a number in [0, 1]")
        for line, column in lines_and_columns
    ]


@pytest.fixture
def store(store_target):
    with AlertStore(store_target) as s:
        yield with_model_and_run(s)


def count(store: AlertStore, table: str) -> int:
    return store.db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def counters(store: AlertStore) -> tuple:
    run = store.run(RUN)
    return run.rows_read, run.alerts_added, run.reviews_added, run.rejected_rows


def test_batch_columns_are_the_alerts_table_columns_but_entities(store):
    """A writer gives the table's columns but those the store derives from its entities."""
    assert store.db.columns("alerts") == alerts_table([1]).column_names + [
        "entities",
        *SEARCH_COLUMNS,
    ]


def test_entities_are_stored_when_given_and_null_when_not(store):
    store.add_batch(RUN, alerts_table([1]), [], rows_read=1)
    table = alerts_table([2, 3])
    given = pd.DataFrame({"src_ip": ["10.0.0.7", None], "dst_port": [443, None]})
    store.add_batch(
        RUN, table.append_column("entities", entity_column(given, np.arange(2))), [], rows_read=2
    )
    entities = store.alerts()["entities"].tolist()
    assert pd.isna(entities[0]) and entities[1] == '{"dst_port":443,"src_ip":"10.0.0.7"}'
    assert pd.isna(entities[2])  # nothing known: NULL, not "{}"
    assert store.alert(alert_id(MODEL, SOURCE_SHA, 1))["entities"] is None
    assert store.alert(alert_id(MODEL, SOURCE_SHA, 2))["entities"] == AlertEntities(
        src_ip="10.0.0.7", dst_port=443
    )


def test_entities_that_are_not_the_typed_column_are_refused_and_nothing_is_written(store):
    table = alerts_table([1]).append_column("entities", pa.array(['{"src_ip":"p-3f2a"}']))
    with pytest.raises(StoreError, match="typed entity column"):
        store.add_batch(RUN, table, [], rows_read=1)
    assert count(store, "alerts") == 0


def test_an_old_duckdb_store_gains_the_entities_column(tmp_path):
    import duckdb

    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute(
            "CREATE TABLE alerts (alert_id VARCHAR PRIMARY KEY, run_id VARCHAR, line BIGINT)"
        )
        old.execute("INSERT INTO alerts VALUES ('a1', 'r1', 4)")
    with AlertStore(path) as store:
        assert store.db.columns("alerts") == ["alert_id", "run_id", "line", "entities"] + list(
            SEARCH_COLUMNS
        )
        [row] = store.alerts().to_dict(orient="records")
        assert row["alert_id"] == "a1" and pd.isna(row["entities"])


def test_add_batch_inserts_and_counts(store):
    added = store.add_batch(RUN, alerts_table([7, 3, 5]), [], rows_read=10)
    assert added == 3
    stored = store.alerts(run_id=RUN)
    assert stored.line.tolist() == [3, 5, 7]
    assert stored.alert_id.tolist() == [alert_id(MODEL, SOURCE_SHA, x) for x in (3, 5, 7)]
    assert counters(store) == (10, 3, 0, 0)
    assert store.run(RUN).status == "running"


def test_same_alerts_again_add_nothing(store):
    assert store.add_batch(RUN, alerts_table([1, 2, 3]), [], rows_read=3) == 3
    assert store.add_batch(RUN, alerts_table([1, 2, 3]), [], rows_read=3) == 0
    assert count(store, "alerts") == 3
    assert store.add_batch(RUN, alerts_table([2, 3, 4]), [], rows_read=3) == 1
    assert count(store, "alerts") == 4
    assert store.run(RUN).alerts_added == 4


def test_empty_batch_only_counts_rows(store):
    assert store.add_batch(RUN, alerts_table([]), [], rows_read=5) == 0
    assert count(store, "alerts") == 0
    assert counters(store) == (5, 0, 0, 0)


def test_rejected_rows_are_stored_per_field_and_counted_per_row(store):
    rejected = problems((4, "n"), (4, "p"), (9, "r"))
    store.add_batch(RUN, alerts_table([1]), rejected, rows_read=12)
    rows = store.db.execute(
        'SELECT run_id, file, line, "column", value, expected FROM rejected_rows '
        'ORDER BY line, "column"'
    ).fetchall()
    assert rows == [(RUN, p.file, p.line, p.column, p.value, p.expected) for p in rejected]
    assert counters(store) == (12, 1, 0, 2)


class FailingConnection:
    """Wraps the store's database; the statement containing ``trigger`` raises."""

    def __init__(self, db, trigger: str):
        self._db, self._trigger = db, trigger

    def _check(self, sql: str) -> None:
        if self._trigger in sql:
            raise RuntimeError("simulated crash")

    def execute(self, sql, *args):
        self._check(sql)
        return self._db.execute(sql, *args)

    def executemany(self, sql, *args):
        self._check(sql)
        return self._db.executemany(sql, *args)

    def __getattr__(self, name):
        return getattr(self._db, name)


@pytest.mark.parametrize("trigger", ["UPDATE runs", "INSERT INTO rejected_rows"])
def test_failure_mid_batch_leaves_nothing_of_it(store, monkeypatch, trigger):
    store.add_batch(RUN, alerts_table([1]), problems((2, "n")), rows_read=2)
    before = (count(store, "alerts"), count(store, "rejected_rows"), counters(store))
    monkeypatch.setattr(store, "db", FailingConnection(store.db, trigger))
    with pytest.raises(RuntimeError, match="simulated crash"):
        store.add_batch(RUN, alerts_table([5, 6, 7]), problems((8, "r"), (9, "p")), rows_read=20)
    monkeypatch.undo()
    assert (count(store, "alerts"), count(store, "rejected_rows"), counters(store)) == before
    # the store is usable afterwards and the lost batch can be written again
    assert store.add_batch(RUN, alerts_table([5, 6, 7]), [], rows_read=20) == 3


def test_wrongly_typed_batch_is_refused_whole(store):
    store.add_batch(RUN, alerts_table([1]), [], rows_read=1)
    before = (count(store, "alerts"), count(store, "rejected_rows"), counters(store))
    with pytest.raises(DATABASE_ERRORS):
        store.add_batch(
            RUN, alerts_table([2, 3], line_type=pa.string()), problems((4, "n")), rows_read=4
        )
    assert (count(store, "alerts"), count(store, "rejected_rows"), counters(store)) == before
    assert store.alerts()["line"].tolist() == [1]


def test_alert_returns_attributions_and_features(store):
    store.add_batch(RUN, alerts_table([11, 12]), [], rows_read=2)
    record = store.alert(alert_id(MODEL, SOURCE_SHA, 12))
    assert record["line"] == 12 and record["run_id"] == RUN and record["model_id"] == MODEL
    assert record["features"] == FEATURES
    np.testing.assert_allclose(np.asarray(record["attributions"], dtype=float), [1.2, 1.5])
    np.testing.assert_allclose(np.asarray(record["feature_values"], dtype=float), [12.0, 1.0])
    assert record["rationale"] == "line 12 looks like a flood"


def test_unknown_alert_and_run_raise_store_error_naming_them(store):
    with pytest.raises(StoreError) as info:
        store.alert("no-such-alert-42")
    assert "no-such-alert-42" in str(info.value) and str(store.path) in str(info.value)
    with pytest.raises(StoreError, match="run-404"):
        store.run("run-404")


def test_finish_run_sets_status_and_time(store):
    assert pd.isna(store.run(RUN).finished_at)
    run = store.finish_run(RUN, "complete")
    assert run.status == "complete" == store.run(RUN).status
    assert run.finished_at >= run.started_at
    assert store.finish_run(RUN, "failed").status == "failed"


def test_store_reopens_intact(store_target):
    path = store_target
    with AlertStore(path) as first:
        first.record_model(
            {
                "model_id": MODEL,
                "created_at": "2024-05-01T12:00:00+00:00",
                "spec": "tiny",
                "detector": "hybrid",
            },
            FEATURES,
        )
        first.start_run(
            run_id=RUN,
            kind="detect",
            model_id=MODEL,
            source_path="flows.csv",
            source_sha256=SOURCE_SHA,
        )
        first.add_batch(RUN, alerts_table([1, 2]), problems((3, "n")), rows_read=3)
        first.finish_run(RUN, "complete")
        expected = first.alerts()
    with AlertStore(path) as second:
        again = second.alerts()
        assert again["alert_id"].tolist() == expected["alert_id"].tolist()
        assert again["suspicion"].tolist() == expected["suspicion"].tolist()
        assert second.run(RUN).status == "complete"
        assert counters(second) == (3, 2, 0, 1)
        assert second.alert(alert_id(MODEL, SOURCE_SHA, 2))["features"] == FEATURES
        assert count(second, "rejected_rows") == 1
        assert second.add_batch(RUN, alerts_table([1, 2]), [], rows_read=2) == 0


def test_alert_id_is_deterministic_per_model_source_and_line():
    assert alert_id(MODEL, SOURCE_SHA, 5) == alert_id(MODEL, SOURCE_SHA, 5)
    assert alert_id(MODEL, SOURCE_SHA, 5) != alert_id(MODEL, SOURCE_SHA, 6)
    assert alert_id(MODEL, SOURCE_SHA, 5) != alert_id("other-model-id", SOURCE_SHA, 5)
    assert alert_id(MODEL, SOURCE_SHA, 5) != alert_id(MODEL, "6" * 64, 5)
