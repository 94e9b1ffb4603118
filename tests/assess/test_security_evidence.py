"""Security evidence on TrustShield's own state: each check passes when things are as they
must be and fails when they are not."""

import json
import pickle  # noqa: TID251 - writes a pickle that the evidence check must refuse

import pytest

from synthetic import SMALL_SPEC, SMALL_SPEC_TEXT, small_flows
from trustshield.assess.security import audit_evidence, model_evidence, template_evidence
from trustshield.model_folder import save_model
from trustshield.pipeline.train import TrainConfig, train
from trustshield.store import AlertStore
from trustshield.store.templates import KEY_ENV, TemplateStore, new_template_key


def by_check(evidence):
    return {e.check: e for e in evidence}


def test_an_intact_audit_chain_passes_and_a_tampered_one_fails(tmp_path):
    with AlertStore(tmp_path / "s.duckdb", actor="alice") as store:
        store.record_event("redteam.run", "r1", {"purpose": "quarterly review"})
        store.record_event("model.register", "m1", {})
        checks = by_check(audit_evidence(store))
        assert checks["audit chain integrity"].status == "pass"
        assert checks["red-team gating"].status == "pass"
        store.db.execute('UPDATE audit_events SET details = \'{"purpose": " "}\' WHERE seq = 1')
        checks = by_check(audit_evidence(store))
        assert checks["audit chain integrity"].status == "fail"
        assert checks["audit chain integrity"].value == 1
        assert checks["red-team gating"].status == "fail"


def test_no_red_team_run_is_not_evidenced(tmp_path):
    with AlertStore(tmp_path / "s.duckdb", actor="alice") as store:
        assert by_check(audit_evidence(store))["red-team gating"].status == "not_evidenced"


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("m") / "model"
    model = train(
        small_flows(0),
        SMALL_SPEC,
        SMALL_SPEC_TEXT,
        config=TrainConfig(n_prototypes=8, n_estimators=5, n_threads=1, capacity="fixed"),
        provenance={},
    )
    save_model(model, folder)
    return folder


def test_a_saved_model_passes_and_an_altered_or_pickled_one_fails(model_folder, tmp_path):
    checks = by_check(model_evidence(model_folder))
    assert checks["model artifact integrity"].status == "pass"
    assert checks["no pickle in model artifacts"].status == "pass"
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in model_folder.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    (copy / "extra.bin").write_bytes(pickle.dumps({"a": 1}))
    state = json.loads((copy / "model.json").read_text())
    state["training"]["rows"] = 1
    (copy / "model.json").write_text(json.dumps(state))
    checks = by_check(model_evidence(copy))
    assert checks["model artifact integrity"].status == "fail"
    assert checks["no pickle in model artifacts"].status == "fail"
    assert "extra.bin" in checks["no pickle in model artifacts"].metric


def test_sealed_templates_pass_and_a_plain_one_fails(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, new_template_key())
    folder = tmp_path / "templates"
    assert template_evidence(folder)[0].status == "not_evidenced"
    with AlertStore(tmp_path / "a.duckdb", actor="alice") as audit:
        TemplateStore(folder, audit=audit).enrol("alice", "keystroke", {"verifier": {"m": [1.0]}})
    assert template_evidence(folder)[0].status == "pass"
    leaked = folder / "bob.template"
    leaked.write_text(json.dumps({"format": "x", "verifier": {"m": [1.0]}}))
    leaked.chmod(0o600)
    (evidence,) = template_evidence(folder)
    assert evidence.status == "fail" and "bob.template" in evidence.metric
