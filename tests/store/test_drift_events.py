"""Drift events stored and read back alike on DuckDB and PostgreSQL; major ones audited."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trustshield.drift.monitor import DriftReference
from trustshield.pipeline.drift_windows import DriftWindows
from trustshield.store import AlertStore

MODEL = "m0123456789abcdef"


def frame(n, *, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    return (
        pd.DataFrame({"bytes": rng.lognormal(5 + shift, 1, n), "proto": rng.choice([0.0, 1.0], n)}),
        rng.normal(shift, 1, n),
    )


@pytest.fixture(scope="module")
def windows():
    """Three windows of 500 records: like training, like training, bytes shifted (major)."""
    reference = DriftReference(categorical=["proto"]).fit(*frame(4000, seed=0), threshold=1.5)
    cutter = DriftWindows(reference, window=500)
    calm, shifted = frame(1000, seed=1), frame(500, seed=2, shift=2.0)
    out = cutter.add(calm[0], calm[1], np.arange(101, 1101))
    return out + cutter.add(shifted[0], shifted[1], np.arange(1101, 1601))


@pytest.fixture
def store(store_target):
    with AlertStore(store_target, actor="alice") as s:
        yield s


def test_events_are_stored_with_their_figures_and_read_back_by_run_and_model(store, windows):
    store.drift.add("run-1", MODEL, windows[:2])
    store.drift.add("run-2", MODEL, windows[2:])
    store.drift.add("run-3", "other-model", windows[:1])
    first, second, third = store.drift.events(model_id=MODEL)
    assert [e["run_id"] for e in (first, second, third)] == ["run-1", "run-1", "run-2"]
    assert (
        first["event_id"],
        first["window_index"],
        first["first_line"],
        first["last_line"],
        first["n_records"],
    ) == ("run-1-0", 0, 101, 600, 500)
    assert [e["level"] for e in (first, second, third)] == ["none", "none", "major"]
    w = windows[2]
    assert third["max_feature_psi"] == pytest.approx(max(f.psi for f in w.features))
    assert third["output_psi"] == pytest.approx(w.output.psi)
    assert third["alert_rate_change"] == pytest.approx(w.alert_rate_change)
    assert (
        third["top_features"][0]["name"] == "bytes" and third["top_features"][0]["level"] == "major"
    )
    assert third["result"]["features"][0]["buckets"] == list(w.features[0].buckets)
    assert [e["event_id"] for e in store.drift.events(run_id="run-1")] == ["run-1-0", "run-1-1"]
    assert [e["run_id"] for e in store.drift.events()] == ["run-1", "run-1", "run-2", "run-3"]
    assert store.drift.events(model_id=MODEL, run_id="run-3") == []


def test_only_major_windows_append_a_drift_detected_audit_event(store, windows):
    store.drift.add("run-1", MODEL, windows)
    [event] = store.audit.events("drift.detected")
    assert event["subject"] == "run-1-2" and event["actor"] == "alice"
    details = event["details"]
    assert details["level"] == "major" and details["model_id"] == MODEL
    assert details["top_features"][0]["name"] == "bytes" and "result" not in details
    assert store.audit.verify() is None


def test_events_roll_back_with_the_callers_transaction(store, windows):
    with pytest.raises(RuntimeError):
        with store.transaction():
            store.drift.add("run-1", MODEL, windows)
            raise RuntimeError("the batch failed")
    assert store.drift.events() == [] and store.audit.events("drift.detected") == []


def test_no_windows_write_nothing(store):
    assert store.drift.add("run-1", MODEL, []) == [] and store.drift.events() == []
