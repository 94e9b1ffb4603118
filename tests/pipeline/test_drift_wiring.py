"""Drift wired through the pipeline: windows over a stream, the reference trained with the
model and kept in its folder, and drift events written by detect with each batch."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.drift.monitor import MIN_WINDOW, DriftReference, drift
from trustshield.detectors.protocol import attack_mask
from trustshield.errors import DataError, ModelIntegrityError
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import DRIFT_FILE, load_model, save_model
from trustshield.pipeline.detect import detect
from trustshield.pipeline.drift_windows import BAD_WINDOW, MISMATCH, DriftWindows
from trustshield.pipeline.train import SUSPICION_FLOOR, training_suspicion
from trustshield.store import AlertStore


def stream(n, *, seed, shift=0.0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(shift, 1.0, n), "b": rng.choice([0.0, 1.0, 2.0], n)})
    return X, rng.normal(0, 1, n)


@pytest.fixture(scope="module")
def reference():
    X, s = stream(3000, seed=0)
    return DriftReference(categorical=["b"]).fit(X, s, threshold=1.0)


def test_windows_cut_a_stream_of_uneven_batches_exactly(reference):
    X, s = stream(3700, seed=1)
    lines = np.arange(10, 3710)
    windows = DriftWindows(reference, window=1000)
    got, start = [], 0
    for size in (700, 1800, 150, 1050):  # windows end inside batches
        stop = start + size
        got += windows.add(X.iloc[start:stop], s[start:stop], lines[start:stop])
        assert windows._held < windows.window  # never more than one window held
        start = stop
    assert [w.index for w in got] == [0, 1, 2]
    assert [(w.first_line, w.last_line, w.n_window) for w in got] == [
        (10, 1009, 1000),
        (1010, 2009, 1000),
        (2010, 3009, 1000),
    ]
    direct = drift(reference, X.iloc[1000:2000], s[1000:2000])
    assert got[1].features == direct.features and got[1].output == direct.output
    last = windows.finish()
    assert (last.index, last.first_line, last.last_line, last.n_window) == (3, 3010, 3709, 700)
    assert windows.finish() is None  # nothing left


def test_a_last_window_under_the_minimum_is_dropped(reference):
    windows = DriftWindows(reference, window=MIN_WINDOW)
    X, s = stream(MIN_WINDOW + MIN_WINDOW - 1, seed=2)
    assert len(windows.add(X, s)) == 1 and windows.finish() is None
    assert windows.seen == len(X)


def test_windows_refuse_a_tiny_window_and_mismatched_inputs(reference):
    with pytest.raises(DataError) as error:
        DriftWindows(reference, window=MIN_WINDOW - 1)
    assert str(error.value) == BAD_WINDOW.format(least=MIN_WINDOW, got=MIN_WINDOW - 1)
    X, s = stream(10, seed=3)
    with pytest.raises(DataError) as error:
        DriftWindows(reference).add(X, s[:9])
    assert str(error.value) == MISMATCH.format(rows=10, suspicion=(9,), lines=(10,))


@pytest.fixture(scope="module")
def trained():
    frame = small_flows(0, n_normal=600, n_flood=240, n_scan=120)
    return frame, train_small(frame, SMALL_SPEC, SMALL_SPEC_TEXT)


def test_training_fits_the_reference_on_encoded_features_and_out_of_fold_suspicion(trained):
    frame, model = trained
    ref = model.drift_reference
    X = model.encoder.transform(frame)
    labels = frame["label"].to_numpy(dtype=object)
    assert list(ref.features_) == list(model.encoder.feature_names) and ref.n_ == len(frame)
    assert ref.features_["p"]["kind"] == "categorical" and ref.suspicion_floor == SUSPICION_FLOOR
    assert ref.threshold_ == model.policy.alert_threshold_
    oof = training_suspicion(model.detector, X, labels)
    normal = ~attack_mask(labels)
    d = model.detector
    # every record scored by models that did not see it: the hybrid's own k-fold refits for
    # the supervised component; for novelty, the fold models on normal records and the
    # final model (fitted on normal records only) on attack records
    folds = d.out_of_fold(X, labels)
    novelty = np.where(normal, folds[:, 1], d.parts()["novelty"].suspicion(X))
    assert np.allclose(oof, d.scaled(np.column_stack([folds[:, 0], novelty])).max(axis=1))
    assert ref.alert_rate_ == pytest.approx(np.mean(oof >= model.policy.alert_threshold_))


def test_the_reference_is_saved_in_the_manifest_and_loads_back(trained, tmp_path):
    _, model = trained
    manifest = save_model(model, tmp_path / "m")
    body = (tmp_path / "m" / DRIFT_FILE).read_bytes()
    assert manifest["files"][DRIFT_FILE] == hashlib.sha256(body).hexdigest()
    loaded = load_model(tmp_path / "m")
    assert (
        loaded.drift_reference.to_dict()
        == json.loads(body)
        == json.loads(json.dumps(model.drift_reference.to_dict()))
    )
    assert loaded.drift_unavailable is None


def test_an_altered_or_missing_reference_is_refused(trained, tmp_path):
    _, model = trained
    save_model(model, tmp_path / "m")
    path = tmp_path / "m" / DRIFT_FILE
    path.write_text(path.read_text().replace('"n": ', '"n": 1', 1))
    with pytest.raises(ModelIntegrityError, match="does not match the manifest"):
        load_model(tmp_path / "m")
    path.unlink()
    with pytest.raises(ModelIntegrityError, match=f"model file {DRIFT_FILE} is missing"):
        load_model(tmp_path / "m")


def test_an_older_folder_without_a_reference_loads_and_says_drift_is_unavailable(trained, tmp_path):
    _, model = trained
    save_model(model, tmp_path / "m")
    manifest_path = tmp_path / "m" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["files"][DRIFT_FILE]
    manifest_path.write_text(json.dumps(manifest))
    (tmp_path / "m" / DRIFT_FILE).unlink()
    old = load_model(tmp_path / "m")
    assert old.drift_reference is None
    assert old.model_id in old.drift_unavailable and "retrain" in old.drift_unavailable


def write(frame, path):
    """The records in a shuffled order (small_flows lists normal records first), as CSV."""
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return path


@pytest.fixture
def saved(trained, tmp_path):
    _, model = trained
    save_model(model, tmp_path / "m")
    return load_model(tmp_path / "m")


def test_detect_stores_one_event_per_window_with_the_batch_that_completes_it(saved, tmp_path):
    data = write(small_flows(5, n_normal=1200, n_flood=480, n_scan=240), tmp_path / "d.csv")
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = detect(saved, TableSource(data, SMALL_SPEC, batch_rows=350), store, drift_window=600)
        events = store.drift.events(run_id=run.run_id)
        assert store.drift.events(model_id=saved.model_id) == events
        assert store.drift.events(model_id="another") == []
    # 1,920 records: three windows of 600; the last 120 (< MIN_WINDOW) give no verdict
    assert [
        (e["window_index"], e["first_line"], e["last_line"], e["n_records"]) for e in events
    ] == [(0, 2, 601, 600), (1, 602, 1201, 600), (2, 1202, 1801, 600)]
    assert all(e["level"] == "none" for e in events), [e["max_feature_psi"] for e in events]
    assert all(len(e["top_features"]) == 3 and e["result"]["n_window"] == 600 for e in events)


def test_a_shifted_stream_gives_major_events_audited_as_drift_detected(saved, tmp_path):
    shifted = small_flows(6, n_normal=900, n_flood=0, n_scan=0)
    shifted["p"] = "udp"
    data = write(shifted, tmp_path / "d.csv")
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = detect(saved, TableSource(data, SMALL_SPEC, batch_rows=400), store, drift_window=500)
        events = store.drift.events(run_id=run.run_id)
        audited = store.audit.events("drift.detected")
        assert store.audit.verify() is None
    assert [e["level"] for e in events] == ["major"]  # 500 + a last 400 (< MIN_WINDOW) dropped
    assert events[0]["top_features"][0]["level"] == "major" and events[0]["max_feature_psi"] >= 0.25
    assert [a["subject"] for a in audited] == [events[0]["event_id"]]
    assert audited[0]["details"]["run_id"] == run.run_id


def test_running_detect_again_on_the_same_input_adds_no_drift_event_and_no_audit(saved, tmp_path):
    shifted = small_flows(6, n_normal=1100, n_flood=0, n_scan=0)
    shifted["p"] = "udp"
    data = write(shifted, tmp_path / "d.csv")
    with AlertStore(tmp_path / "s.duckdb") as store:
        first = detect(
            saved, TableSource(data, SMALL_SPEC, batch_rows=400), store, drift_window=500
        )
        before = (store.drift.events(), store.audit.events("drift.detected"))
        again = detect(
            saved, TableSource(data, SMALL_SPEC, batch_rows=300), store, drift_window=500
        )
        after = (store.drift.events(), store.audit.events("drift.detected"))
        other = write(small_flows(9, n_normal=600, n_flood=0, n_scan=0), tmp_path / "e.csv")
        detect(saved, TableSource(other, SMALL_SPEC), store, drift_window=500)
        third = store.drift.events()
    assert again.run_id != first.run_id and again.status == "complete"
    assert len(before[0]) == 2 and [e["level"] for e in before[0]] == ["major", "major"]
    assert after == before  # same events (written by the first run), same audit events
    assert {e["run_id"] for e in after[0]} == {first.run_id}
    assert len(third) == 3  # another file is another comparison


def test_a_failing_batch_writes_neither_its_alerts_nor_its_drift_events(
    saved, tmp_path, monkeypatch
):
    data = write(small_flows(7, n_normal=1200, n_flood=0, n_scan=0), tmp_path / "d.csv")
    with AlertStore(tmp_path / "s.duckdb") as store:
        original, calls = store.drift.add, []

        def add_then_fail(run_id, model_id, windows, **given):
            calls.append(len(windows))
            original(run_id, model_id, windows, **given)
            if windows:
                raise RuntimeError("disk full")

        monkeypatch.setattr(store.drift, "add", add_then_fail)
        with pytest.raises(RuntimeError):
            detect(saved, TableSource(data, SMALL_SPEC, batch_rows=300), store, drift_window=500)
        rows = store.db.execute("SELECT rows_read, status FROM runs").fetchall()
        assert store.drift.events() == []
    assert calls == [0, 1] and rows == [(300, "failed")]  # the second batch rolled back whole


def test_detect_without_a_reference_stores_no_events(saved, tmp_path):
    data = write(small_flows(8, n_normal=600, n_flood=0, n_scan=0), tmp_path / "d.csv")
    saved.drift_reference = None
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = detect(saved, TableSource(data, SMALL_SPEC), store, drift_window=500)
        assert run.status == "complete" and store.drift.events() == []
