"""The service and the rewritten audit log: it refuses to start on a keyed store whose
chain head was dropped after its events were rewritten (before, it sealed a fresh head and
``/v1/audit/verify`` said intact), starts again after an audited reseal, and reports a head
lost while it runs as broken, refusing state changes with 503 instead of papering over."""

from __future__ import annotations

import pytest

from audit_attack import KEY, fingerprint, keyed_history, rewrite_history
from conftest import bearer
from trustshield.errors import StoreError
from trustshield.service.context import ServiceContext
from trustshield.service.settings import ServiceSettings
from trustshield.store import AlertStore


def settings_for(store, root) -> ServiceSettings:
    return ServiceSettings(store=str(store), models_dir=root / "models", scoring_workers=0)


def test_the_service_does_not_start_on_a_chain_without_its_head(
    store_target, tmp_path, monkeypatch
):
    events, hidden = keyed_history(store_target, monkeypatch)
    kept = rewrite_history(store_target, events, hide=hidden)
    with pytest.raises(StoreError) as refused:
        ServiceContext(settings_for(store_target, tmp_path))
    message = str(refused.value)
    assert message.startswith("the service does not start: the audit chain of")
    assert "holds 0 rows" in message and "trustshield audit reseal" in message
    with AlertStore(store_target, actor="reader") as store:  # and it left the store as it was
        assert not store.audit.check().ok and len(store.audit.events()) == len(kept)


def test_after_a_reseal_the_service_starts_and_reports_the_chain_intact(
    store_target, tmp_path, monkeypatch, build_service
):
    from trustshield.store.audit_reseal import reseal

    events, hidden = keyed_history(store_target, monkeypatch)
    kept = rewrite_history(store_target, events, hide=hidden)
    with AlertStore(store_target, actor="admin") as store:
        reseal(
            store,
            accept_through=len(kept),
            accept_hash=kept[-1]["hash"],
            reason="reviewed",
            login="root",
        )
    rig = build_service(tmp_path / "service", store=str(store_target))
    try:
        with rig.client() as client:
            report = client.get("/v1/audit/verify", headers=bearer(rig.tokens["auditor"])).json()
            assert report["ok"] and report["head_key_fingerprint"] == fingerprint(KEY)
            listed = client.get(
                "/v1/audit?action=audit.reseal", headers=bearer(rig.tokens["auditor"])
            ).json()["items"]
            assert [e["details"]["accepted_through"] for e in listed] == [len(kept)]
    finally:
        rig.context.close()


def test_a_head_lost_while_running_is_reported_and_refuses_state_changes(
    store_target, tmp_path, monkeypatch, build_service
):
    monkeypatch.setenv("TRUSTSHIELD_AUDIT_KEY", KEY)
    rig = build_service(tmp_path / "service", store=str(store_target))
    try:
        with rig.client() as client:
            with rig.context.write("attacker") as store:
                store.db.execute("DELETE FROM audit_head")
            report = client.get("/v1/audit/verify", headers=bearer(rig.tokens["auditor"])).json()
            assert (report["ok"], report["problem"]) == (False, "no_head")
            assert "trustshield audit reseal" in report["remedy"]
            assert report["last_seq"] == report["events"] == len(rig.tokens)
            response = client.put(
                "/v1/settings", json={"retention_days": 30}, headers=bearer(rig.tokens["admin"])
            )
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "audit_unsealed"
            settings = client.get("/v1/settings", headers=bearer(rig.tokens["auditor"])).json()
            assert settings["retention_days"] is None  # the change rolled back with its event
    finally:
        rig.context.close()
