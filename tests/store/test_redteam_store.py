"""Red-team runs and their examples, stored and read back alike on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from database_errors import DATABASE_ERRORS

from trustshield.errors import StoreError
from trustshield.store import AlertStore
from trustshield.store.redteam import RedTeamExamples

MODEL = "m0123456789abcdef"
FEATURES = [
    {"name": "bytes", "type": "integer", "categories": []},
    {"name": "proto", "type": "categorical", "categories": ["icmp", "tcp", "udp"]},
]
START = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(store_target):
    with AlertStore(store_target, actor="alice") as s:
        s.record_model(
            {
                "model_id": MODEL,
                "created_at": "2024-05-01T12:00:00+00:00",
                "spec": "tiny",
                "detector": "gbdt",
            },
            FEATURES,
        )
        yield s


def examples() -> RedTeamExamples:
    return RedTeamExamples(
        rows=np.array([9, 4]),
        detail=np.array(["evasion", "evasion"], dtype=object),
        evaded=np.array([True, False]),
        changed=np.array([1, 2]),
        original=np.array([[100.0, 1.0], [50.0, 2.0]]),
        adversarial=np.array([[40.0, 1.0], [10.0, 0.0]]),
    )


def save(store, run_id="rt-1", batch=None):
    return store.redteam.save(
        run_id=run_id,
        kind="evasion",
        model_id=MODEL,
        purpose="Q1 test",
        parameters={"eps": 0.1},
        summary={"evaded": 1},
        started_at=START,
        finished_at=START + timedelta(seconds=3),
        status="complete",
        examples=batch or examples(),
    )


def test_a_run_reads_back_with_its_examples_and_its_event(store):
    event = save(store)
    run = store.redteam.run("rt-1")
    assert (run["operator"], run["parameters"], run["summary"]) == (
        "alice",
        {"eps": 0.1},
        {"evaded": 1},
    )
    assert run["finished_at"] - run["started_at"] == timedelta(seconds=3)
    stored = store.redteam.examples("rt-1")
    assert stored["row"].tolist() == [4, 9] and stored["evaded"].tolist() == [False, True]
    assert [list(v) for v in stored["adversarial"]] == [[10.0, 0.0], [40.0, 1.0]]
    assert event["action"] == "redteam.run" and event["details"]["examples"] == 2
    assert store.audit.check().ok


def test_export_frame_has_one_column_per_feature(store):
    save(store)
    frame = store.redteam.export_frame("rt-1")
    assert list(frame.columns) == [
        "run_id",
        "version",
        "row",
        "detail",
        "evaded",
        "changed",
        "bytes",
        "proto",
    ]
    assert frame[["row", "version", "bytes"]].values.tolist() == [
        [4, "original", 50.0],
        [4, "adversarial", 10.0],
        [9, "original", 100.0],
        [9, "adversarial", 40.0],
    ]


def test_a_failed_save_leaves_no_run_no_examples_no_event(store):
    save(store)
    with pytest.raises(DATABASE_ERRORS):
        save(store, run_id="rt-1")  # same id: the run row is refused
    assert store.db.execute("SELECT count(*) FROM redteam_examples").fetchone()[0] == 2
    assert len(store.audit.events("redteam.run")) == 1
    with pytest.raises(StoreError, match="rt-404"):
        store.redteam.run("rt-404")
