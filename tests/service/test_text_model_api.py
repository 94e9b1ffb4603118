"""Payload and domain models served by ``POST /v1/score``: packed into a model folder,
signed, uploaded and activated like tabular models (same roles, same audit events), scored
with exact per-character terms, their alerts stored as the CLI stores them; what makes no
sense for a text model is refused clearly.

The models are trained here on a few made-up payloads and domain names (no data file)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import bearer, sign_in
from domain_samples import domain_names
from trustshield.cli import main
from trustshield.detectors.payload import PayloadDetector
from trustshield.errors import ModelIntegrityError
from trustshield.explain.payload import explain_payloads
from trustshield.model_folder import load_model, save_text_model_folder
from trustshield.pipeline.domains import model_document, score, train
from trustshield.pipeline.payload_model import PayloadModel, save_payload_model
from trustshield.service.text_scoring import MAX_BATCH_TEXT, MAX_TEXT
from trustshield.store import AlertStore
from trustshield.store.bundles import bundle_from_folder, sign_model_folder
from trustshield.store.signing import Keyring

NORMAL = ["madrid", "calle mayor 5", "juan@example.org", "28001", "ana lopez", "maria"]
ATTACK = [
    ("1' or 1=1--", "sqli"),
    ("1 union select null,null--", "sqli"),
    ("<script>alert(1)</script>", "xss"),
    ("<img src=x onerror=alert(1)>", "xss"),
    ("../../etc/passwd", "path-traversal"),
    ("a;/usr/bin/id", "cmdi"),
]
#: scored through the API: unseen variants of the training attacks, and ordinary values
QUERIES = ["7' or 1=1--", "<script>alert(7)</script>", "../../../etc/shadow", "sevilla", "41001"]


def _signed(folder, keys_dir):
    sign_model_folder(folder, Keyring(keys_dir), signer="test-signer")
    return bundle_from_folder(folder, Keyring(keys_dir))


@pytest.fixture(scope="module")
def payload_files(tmp_path_factory, signed_model):
    """(payload model, its packed and signed folder, its upload bundle). The threshold is
    0: the margin at which the model prefers an attack type to normal."""
    root = tmp_path_factory.mktemp("payload-model")
    rows = [(p, "normal") for p in NORMAL] * 3 + ATTACK * 3
    detector = PayloadDetector(bits=12).fit_payloads([p for p, _ in rows], [t for _, t in rows])
    model = PayloadModel(detector, 0.0, 0.01, {"data": {"file": "made-up", "sha256": None}})
    save_payload_model(model, root / "payload-model.json")
    save_text_model_folder((root / "payload-model.json").read_bytes(), root / "folder")
    return model, root / "folder", _signed(root / "folder", signed_model.keys_dir)


@pytest.fixture(scope="module")
def domain_files(tmp_path_factory, signed_model):
    root = tmp_path_factory.mktemp("domain-model")
    X, y = domain_names()
    model = train(np.asarray(X["domain"]), y, synthetic=40, pseudo=20, n_estimators=30)
    document = model_document(model, {"spec": "made-up", "file": "made-up", "sha256": None})
    save_text_model_folder(json.dumps(document).encode(), root / "folder")
    return model, root / "folder", _signed(root / "folder", signed_model.keys_dir)


def _activate(client, rig, bundle) -> str:
    admin = bearer(rig.tokens["admin"])
    response = client.post("/v1/models", json=bundle, headers=admin)
    assert response.status_code == 201, response.text
    model_id = response.json()["model_id"]
    response = client.post(f"/v1/models/{model_id}/activate", headers=admin)
    assert response.status_code == 200, response.text
    rig.context.measuring.join(60)
    return model_id


def _score(client, rig, records, role="analyst"):
    return client.post("/v1/score", json={"records": records}, headers=bearer(rig.tokens[role]))


def _events(rig, action):
    with rig.context.read() as store:
        return store.audit.events(action)


def _exact(result) -> None:
    assert len(result["characters"]) == len(result["text"])
    total = result["base"] + sum(result["characters"])
    assert abs(total - result["suspicion"]) <= 1e-9


def test_a_payload_model_is_scored_explained_and_stored(service_rig, payload_files):
    model, _, bundle = payload_files
    records = [{"payload": q, "src_ip": f"10.0.0.{k + 1}"} for k, q in enumerate(QUERIES)]
    with service_rig.client() as client:
        model_id = _activate(client, service_rig, bundle)
        response = _score(client, service_rig, records)
        assert response.status_code == 200, response.text
        body = response.json()
        alerts = {
            r["index"]: client.get(
                f"/v1/alerts/{r['alert_id']}", headers=bearer(service_rig.tokens["viewer"])
            )
            for r in body["results"]
            if r["action"] == "alert"
        }
    assert body["model_id"] == model_id == bundle["manifest"]["model_id"]
    expected = explain_payloads(model.detector, QUERIES)  # what the CLI path computes
    for result, e in zip(body["results"], expected, strict=True):
        _exact(result)
        assert result["text"] == e.payload
        assert result["suspicion"] == pytest.approx(e.score, abs=1e-12)
        assert result["action"] == ("alert" if e.score > model.threshold else "allow")
        if result["action"] == "alert":
            assert (result["category"], result["technique"]) == (e.attack_type, "T1190")
    kinds = {r["text"]: r.get("category") for r in body["results"]}
    assert kinds["7' or 1=1--"] == "sqli" and kinds["<script>alert(7)</script>"] == "xss"
    assert kinds["sevilla"] is None and kinds["41001"] is None
    assert body["alerts_returned"] == len(alerts) >= 2
    for index, got in alerts.items():
        assert got.status_code == 200, got.text
        stored = got.json()
        assert "".join(c["char"] for c in stored["characters"]) == QUERIES[index]
        total = stored["base"] + sum(c["contribution"] for c in stored["characters"])
        assert total == pytest.approx(stored["suspicion"], abs=1e-9)
        assert stored["category"] == body["results"][index]["category"]
    [upload] = _events(service_rig, "model.upload")
    [activated] = _events(service_rig, "model.activate")
    [batch] = _events(service_rig, "score.batch")
    assert upload["subject"] == activated["subject"] == model_id
    assert activated["details"] == {
        "spec": "web-request parameter values (text)",
        "text": "payload",
    }
    assert batch["details"]["alerts"] == len(alerts) and batch["actor"] != "service"
    assert service_rig.context.capacity.model_id == model_id  # measured on made-up payloads
    index, alert_id = next(
        (i, r["alert_id"]) for i, r in enumerate(body["results"]) if "alert_id" in r
    )
    with service_rig.client() as client:
        assert sign_in(client, service_rig.tokens["viewer"]).status_code == 303
        page = client.get(f"/ui/alerts/{alert_id}")
        for path in ("/ui/alerts", "/ui/practices", "/v1/practices", "/v1/models", "/v1/health"):
            assert client.get(path, headers=bearer(service_rig.tokens["viewer"])).status_code == 200
    assert page.status_code == 200 and page.text.count('<span class="char ') == len(QUERIES[index])


def test_a_domain_model_names_the_family_and_colours_the_name(service_rig, domain_files):
    model, _, bundle = domain_files
    names = ["qxzjkvwbfghqxz.net", "homecity.com", "mail.qxzjkvwbfgh7.biz"]
    with service_rig.client() as client:
        _activate(client, service_rig, bundle)
        response = _score(client, service_rig, [{"domain": n} for n in names])
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    for result, verdict in zip(results, score(model, names), strict=True):
        _exact(result)
        assert result["suspicion"] == pytest.approx(verdict.score, abs=1e-12)
        assert (result["action"] == "alert") == verdict.alert
        if verdict.alert:
            assert result["category"] == verdict.family and result["technique"] == "T1568.002"
    assert results[0]["action"] == "alert" and results[0]["category"].startswith("family-")


def test_bad_records_are_refused_naming_row_and_field(service_rig, payload_files, domain_files):
    with service_rig.client() as client:
        _activate(client, service_rig, payload_files[2])
        bad = [
            {"payload": "ok"},
            {"payload": 7},
            {"n": 1.0, "payload": "x"},
            {"src_ip": "10.0.0.1"},
            {"payload": "a" * (MAX_TEXT + 1)},
        ]
        response = _score(client, service_rig, bad)
        too_much = _score(client, service_rig, [{"payload": "a" * MAX_TEXT}] * 40)
        _activate(client, service_rig, domain_files[2])
        domain = _score(client, service_rig, [{"domain": "shop.com"}, {"domain": "bücher.de"}])
        with service_rig.context.read() as store:
            stored = len(store.alerts())
    assert response.status_code == 422, response.text
    problems = {(d["row"], d["field"]): d["expected"] for d in response.json()["error"]["details"]}
    assert set(problems) == {(1, "payload"), (2, "n"), (3, "payload"), (4, "payload")}
    assert "JSON string" in problems[(1, "payload")] and "missing" in problems[(3, "payload")]
    assert f"at most {MAX_TEXT}" in problems[(4, "payload")]
    assert 40 * MAX_TEXT > MAX_BATCH_TEXT and too_much.status_code == 413
    assert f"at most {MAX_BATCH_TEXT}" in too_much.json()["error"]["message"]
    assert domain.status_code == 422
    [detail] = domain.json()["error"]["details"]
    assert (detail["row"], detail["field"]) == (1, "domain") and "domain name" in detail["expected"]
    assert stored == 0


def test_roles_and_tampering_are_refused_and_audited(service_rig, payload_files):
    _, folder, bundle = payload_files
    altered = json.loads(json.dumps(bundle))
    document = json.loads(altered["files"]["model.json"])
    document["threshold"] = 1e9  # an attacker switching off every alert
    altered["files"]["model.json"] = json.dumps(document)
    admin = bearer(service_rig.tokens["admin"])
    with service_rig.client() as client:
        refused = client.post("/v1/models", json=altered, headers=admin)
        viewer = client.post(
            "/v1/models", json=bundle, headers=bearer(service_rig.tokens["viewer"])
        )
        model_id = client.post("/v1/models", json=bundle, headers=admin).json()["model_id"]
        analyst = client.post(
            f"/v1/models/{model_id}/activate", headers=bearer(service_rig.tokens["analyst"])
        )
        installed = service_rig.settings.models_dir / model_id / "model.json"
        installed.write_text(installed.read_text().replace('"threshold": 0.0', '"threshold": 9.0'))
        tampered = client.post(f"/v1/models/{model_id}/activate", headers=admin)
    assert refused.status_code == 422 and "sha256" in refused.json()["error"]["message"]
    assert viewer.status_code == 403 and analyst.status_code == 403
    assert tampered.status_code == 422 and "altered" in tampered.json()["error"]["message"]
    assert service_rig.context.model is None  # nothing scored with either
    steps = [(e["details"]["step"], e["subject"]) for e in _events(service_rig, "model.refused")]
    assert steps == [("upload", model_id), ("activate", model_id)]
    endpoints = {e["details"]["endpoint"] for e in _events(service_rig, "access.refused")}
    assert {"models.upload", "models.activate"} <= endpoints


def test_tabular_paths_refuse_a_text_model_clearly(service_rig, payload_files):
    _, folder, bundle = payload_files
    with pytest.raises(ModelIntegrityError, match="payload model"):
        load_model(folder)  # detect, watch, report: tabular only
    body = {"purpose": "test", "records": [{"payload": "1' or 1=1--"}]}
    with service_rig.client() as client:
        model_id = _activate(client, service_rig, bundle)
        evade = client.post(
            "/v1/redteam/evade", json=body, headers=bearer(service_rig.tokens["red-team"])
        )
        tabular = _score(client, service_rig, [{"n": 1.0, "proto": "tcp"}])
    assert evade.status_code == 422 and evade.json()["error"]["code"] == "not_tabular"
    assert "payloads evade" in evade.json()["error"]["message"]
    [event] = _events(service_rig, "redteam.refused")
    assert event["subject"] == model_id
    assert tabular.status_code == 422


def test_models_pack_writes_a_folder_that_signs(tmp_path, payload_files, signed_model):
    model, _, _ = payload_files
    save_payload_model(model, tmp_path / "m.json")
    out = tmp_path / "packed"
    assert (
        main(["models", "pack", "--text-model", str(tmp_path / "m.json"), "--out", str(out)]) == 0
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["text"] == "payload" and list(manifest["files"]) == ["model.json"]
    assert (out / "model.json").read_bytes() == (tmp_path / "m.json").read_bytes()
    sign_model_folder(out, Keyring(signed_model.keys_dir))  # it loads, so it signs
    store = str(tmp_path / "store.duckdb")
    assert main(["models", "register", "--model", str(out), "--store", store]) == 0
    with AlertStore(store) as opened:
        registered = opened.model(manifest["model_id"])
    assert registered["features"] == [{"name": "payload", "type": "text", "categories": None}]
    (tmp_path / "not-a-model.json").write_text('{"format": "something else"}')
    assert (
        main(
            [
                "models",
                "pack",
                "--text-model",
                str(tmp_path / "not-a-model.json"),
                "--out",
                str(tmp_path / "x"),
            ]
        )
        != 0
    )
    assert not (tmp_path / "x").exists()


def test_a_scoring_worker_builds_the_text_model_from_the_verified_bytes(
    build_service, tmp_path, payload_files
):
    """A worker process scores a text model exactly as the service process does."""
    from test_scoring_api import rig_with

    records = [{"payload": q} for q in QUERIES]
    answers = []
    for workers in (0, 1):
        rig = rig_with(build_service, tmp_path / f"w{workers}", scoring_workers=workers)
        with rig.client() as client:
            _activate(client, rig, payload_files[2])
            assert (rig.context.scorer._pool is not None) == (workers > 0)
            response = _score(client, rig, records)
        assert response.status_code == 200, response.text
        body = response.json()
        answers.append([{k: v for k, v in r.items() if k != "alert_id"} for r in body["results"]])
    assert answers[0] == answers[1]


def test_an_altered_document_is_not_packed_and_a_restart_reloads_the_text_model(
    build_service, tmp_path, payload_files
):
    from trustshield.service.context import ServiceContext

    model, folder, bundle = payload_files
    document = json.loads((folder / "model.json").read_text())
    document["threshold"] = 1e9
    with pytest.raises(ModelIntegrityError, match="sha256"):
        save_text_model_folder(json.dumps(document).encode(), tmp_path / "altered")
    assert not (tmp_path / "altered").exists()
    rig = build_service(tmp_path / "svc")
    with rig.client() as client:
        model_id = _activate(client, rig, bundle)
    rig.context.close()
    again = ServiceContext(rig.settings)  # the active model is verified and loaded again
    try:
        assert again.model.model_id == model_id and again.model.kind == "payload"
        assert again.model.threshold == model.threshold
    finally:
        again.measuring.join(60)
        again.close()
