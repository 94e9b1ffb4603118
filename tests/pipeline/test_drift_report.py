"""The trust report's drift section: Evidence, the features that moved most, per-window
figures and stored events, in report.json (meeting its schema) and report.html."""

from __future__ import annotations

import jsonschema
import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows, train_small
from trustshield.ingest.tabular import TableSource
from trustshield.model_folder import load_model, save_model
from trustshield.pipeline.detect import detect
from trustshield.pipeline.evaluate import evaluate
from trustshield.pipeline.report_content import drift_content, report_content
from trustshield.report import render_html, schema
from trustshield.store import AlertStore


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("drift-report") / "m"
    save_model(
        train_small(
            small_flows(0, n_normal=600, n_flood=240, n_scan=120), SMALL_SPEC, SMALL_SPEC_TEXT
        ),
        folder,
    )
    return load_model(folder)


def csv(frame, path):
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)
    return TableSource(path, SMALL_SPEC)


def shifted_flows():
    frame = small_flows(3, n_normal=1200, n_flood=0, n_scan=0)
    frame["p"] = "udp"
    return frame


def report(model, source, **kwargs):
    section = drift_content(model, source, **kwargs)
    return report_content(model, evaluate(model, source), drift=section)


def check(r):
    jsonschema.Draft202012Validator(schema()).validate(r)
    return {e["check"]: e for e in r["evidence"]}


def test_data_like_training_passes_both_drift_checks(model, tmp_path):
    r = report(
        model,
        csv(small_flows(1, n_normal=1200, n_flood=480, n_scan=240), tmp_path / "d.csv"),
        window=600,
    )
    evidence = check(r)
    assert (
        evidence["input drift"]["status"] == "pass" and evidence["output drift"]["status"] == "pass"
    )
    d = r["drift"]
    assert d["available"] and d["records"] == 1920 and d["whole"]["level"] == "none"
    assert [w["n_window"] for w in d["windows"]] == [600, 600, 600]  # last 120 < 500: no verdict
    assert evidence["input drift"]["value"] == pytest.approx(d["whole"]["max_feature_psi"])


def test_shifted_data_fails_input_drift_and_names_the_features_that_moved(model, tmp_path):
    r = report(model, csv(shifted_flows(), tmp_path / "d.csv"))
    evidence = check(r)
    assert evidence["input drift"]["status"] == "fail"
    top = r["drift"]["whole"]["top_features"]
    assert len(top) == 3 and top[0]["level"] == "major"  # the spec has 3 features
    assert [f["psi"] for f in top] == sorted((f["psi"] for f in top), reverse=True)
    assert next(f for f in top if f["name"] == "p")["ks"] is None  # categorical: no KS
    page = render_html(r)
    assert 'id="drift"' in page and "Features that moved most" in page and "<svg" in page
    assert all(f">{f['name']}<" in page for f in top)


def test_stored_drift_events_of_the_model_are_listed(model, tmp_path):
    source = csv(shifted_flows(), tmp_path / "d.csv")
    with AlertStore(tmp_path / "s.duckdb") as store:
        run = detect(model, source, store, drift_window=500)
        events = store.drift.events(model_id=model.model_id)
    r = report(model, source, events=events)
    check(r)
    assert [(e["run_id"], e["level"]) for e in r["drift"]["events"]] == [(run.run_id, "major")] * 2
    assert r["drift"]["events_total"] == 2 and "Drift events stored" in render_html(r)


def test_a_model_without_a_reference_reports_drift_as_not_evidenced(model, tmp_path):
    source = csv(small_flows(2), tmp_path / "d.csv")
    model.drift_reference, saved = None, model.drift_reference
    try:
        r = report(model, source)
    finally:
        model.drift_reference = saved
    evidence = check(r)
    assert {evidence[c]["status"] for c in ("input drift", "output drift")} == {"not_evidenced"}
    assert r["drift"]["available"] is False and "retrain" in r["drift"]["reason"]
    assert "retrain" in render_html(r)
