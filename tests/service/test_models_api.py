"""Only signed, unaltered models are installed and activated; both are audited. Retention
deletes old alerts and says so in the audit chain."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from conftest import bearer


def test_an_altered_bundle_is_refused_and_nothing_is_installed(service_rig):
    admin = bearer(service_rig.tokens["admin"])
    bundle = service_rig.signed.bundle()
    state = json.loads(bundle["files"]["model.json"])
    state["policy"]["alert_threshold"] = 1e9  # an attacker switching off every alert
    bundle["files"]["model.json"] = json.dumps(state, sort_keys=True)
    with service_rig.client() as client:
        response = client.post("/v1/models", json=bundle, headers=admin)
        listed = client.get("/v1/models", headers=admin).json()
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "model_refused"
    assert "sha256" in response.json()["error"]["message"]
    assert (
        listed["items"] == []
        and not service_rig.settings.models_dir.exists()
        or not any(service_rig.settings.models_dir.iterdir())
    )


def test_an_unsigned_bundle_is_refused(service_rig):
    bundle = service_rig.signed.bundle()
    bundle["signature"]["signature"] = bundle["signature"]["signature"][::-1]
    with service_rig.client() as client:
        response = client.post(
            "/v1/models", json=bundle, headers=bearer(service_rig.tokens["admin"])
        )
    assert response.status_code == 422 and "signature" in response.json()["error"]["message"]


def test_activation_checks_the_installed_files_again(service_client, service_rig):
    admin = bearer(service_rig.tokens["admin"])
    model_id = service_rig.signed.model_id
    installed = service_rig.settings.models_dir / model_id / "model.json"
    installed.write_text(installed.read_text().replace('"alert_threshold"', '"alert_threshold" '))
    response = service_client.post(f"/v1/models/{model_id}/activate", headers=admin)
    assert response.status_code == 422 and "altered" in response.json()["error"]["message"]


def test_upload_and_activation_are_audited_with_the_signer(service_client, service_rig):
    events = service_client.get("/v1/audit", headers=bearer(service_rig.tokens["auditor"])).json()
    actions = [(e["action"], e["subject"]) for e in events["items"]]
    model_id = service_rig.signed.model_id
    assert ("model.upload", model_id) in actions and ("model.activate", model_id) in actions
    listed = service_client.get("/v1/models", headers=bearer(service_rig.tokens["viewer"])).json()
    assert listed["active_model"] == model_id
    assert listed["items"][0]["signed_by"] and listed["items"][0]["installed"]


def test_retention_deletes_old_alerts_and_audits_it(scored):
    client, rig, response = scored
    admin = bearer(rig.tokens["admin"])
    old = datetime.now(timezone.utc) - timedelta(days=40)
    first = next(r["alert_id"] for r in response["results"] if r.get("alert_id"))
    with rig.context.write("test") as store:
        store.db.execute("UPDATE alerts SET created_at = ? WHERE alert_id = ?", [old, first])
    client.put("/v1/settings", json={"retention_days": 30}, headers=admin)
    result = client.post("/v1/retention/apply", headers=admin).json()
    assert result["deleted"] == 1
    assert client.get(f"/v1/alerts/{first}", headers=admin).status_code == 404
    events = client.get("/v1/audit?action=retention.delete", headers=admin).json()["items"]
    assert events[-1]["details"]["deleted"] == 1 and events[-1]["details"]["days"] == 30


def test_the_chain_verifies_after_a_working_session_and_names_a_broken_link(scored):
    client, rig, _ = scored
    auditor = bearer(rig.tokens["auditor"])
    assert client.get("/v1/audit/verify", headers=auditor).json()["ok"] is True
    with rig.context.write("tamperer") as store:
        store.db.execute("UPDATE audit_events SET actor = 'someone else' WHERE seq = 3")
    check = client.get("/v1/audit/verify", headers=auditor).json()
    assert check["ok"] is False and check["first_broken"] == 3
