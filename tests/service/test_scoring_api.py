"""POST /v1/score end to end: exact explanations, alerts stored as returned, the review
queue, whole-batch refusal of bad records, pseudonymised identities, rate limits and the
probing monitor."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from conftest import bearer, sample_records, sweep

from trustshield.service.app import create_app


def alert_count(rig) -> int:
    with rig.context.read() as store:
        return store.db.execute("SELECT count(*) FROM alerts").fetchone()[0]


def test_results_are_explained_exactly_and_stored_as_returned(scored):
    client, rig, response = scored
    flagged = [r for r in response["results"] if r["action"] != "allow"]
    assert flagged and response["alerts_returned"] == len(flagged) == alert_count(rig)
    for r in flagged:
        total = r["base"] + sum(a["contribution"] for a in r["attributions"]) + r["others"]
        assert total == pytest.approx(r["suspicion"], abs=1e-6)
        assert r["rationale"] and r["technique"].startswith("T")
    assert all("attributions" not in r for r in response["results"] if r["action"] == "allow")
    queued = {
        i["alert_id"]
        for i in client.get("/v1/reviews", headers=bearer(rig.tokens["viewer"])).json()["items"]
    }
    assert queued == {r["alert_id"] for r in flagged if r["action"] == "review"}
    batch = client.get(
        "/v1/audit?action=score.batch", headers=bearer(rig.tokens["auditor"])
    ).json()["items"]
    assert batch[-1]["details"]["alerts"] == len(flagged)
    assert batch[-1]["actor"].startswith("token:")


@pytest.mark.parametrize(
    "change, field, expected",
    [
        (lambda r: r.update(n=-5), "n", "in [0, 1000]"),
        (lambda r: r.update(n=10**400), "n", "in [0, 1000]"),  # beyond float range: no crash
        (lambda r: r.pop("t"), "t", "missing"),
        (lambda r: r.update(colour="red"), "colour", "no such field"),
        (lambda r: r.update(src_ip="not-an-ip"), "src_ip", "IPv4 or IPv6"),
    ],
)
def test_a_bad_record_refuses_the_whole_batch_naming_row_and_field(
    service_client, service_rig, change, field, expected
):
    records = sample_records(service_rig.signed.frame)
    change(records[4])
    response = service_client.post(
        "/v1/score", json={"records": records}, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["row"], d["field"]) for d in details] == [(4, field)]
    assert expected in details[0]["expected"]
    assert alert_count(service_rig) == 0
    with service_rig.context.read() as store:
        assert store.audit.events("score.batch") == []
        [refused] = [e["details"] for e in store.audit.events("access.refused")]
    assert (refused["kind"], refused["status"], refused["endpoint"]) == (
        "invalid_records",
        422,
        "score",
    )
    assert refused["token_id"] == service_rig.tokens["analyst"].split("_")[1]


def test_identities_are_stored_as_keyed_hmacs_when_pseudonymisation_is_on(
    service_client, service_rig, monkeypatch
):
    monkeypatch.setenv("TRUSTSHIELD_PSEUDONYM_KEY", "ab" * 32)
    admin = bearer(service_rig.tokens["admin"])
    assert (
        service_client.put("/v1/settings", json={"pseudonymise": True}, headers=admin).json()[
            "pseudonymise"
        ]
        is True
    )
    service_rig.score(service_client, sample_records(service_rig.signed.frame))
    with service_rig.context.read() as store:
        stored = [row[0] for row in store.db.execute("SELECT entities FROM alerts").fetchall()]
        changes = store.audit.events("config.change")
    assert stored and all(
        json.loads(s)["src_ip"].startswith("hmac:") and "10.0.0." not in s for s in stored
    )
    assert changes[-1]["details"] == {"old": None, "new": True}


def test_pseudonymisation_cannot_be_switched_on_without_a_key(
    service_client, service_rig, monkeypatch
):
    monkeypatch.delenv("TRUSTSHIELD_PSEUDONYM_KEY", raising=False)
    response = service_client.put(
        "/v1/settings", json={"pseudonymise": True}, headers=bearer(service_rig.tokens["admin"])
    )
    assert response.status_code == 400 and "TRUSTSHIELD_PSEUDONYM_KEY" in response.text


def rig_with(build_service, tmp_path, **changes):
    rig = build_service(tmp_path / "svc")
    rig.settings = dataclasses.replace(rig.settings, **changes)
    rig.context.settings = rig.settings
    from trustshield.service.capacity import rates_for
    from trustshield.service.ratelimit import RateLimiter

    rig.context.rates = rates_for(rig.settings, None)
    rig.context.limiter = RateLimiter(
        rate_per_s=rig.context.rates.rate_per_s, burst=rig.context.rates.burst
    )
    rig.app = create_app(rig.settings, context=rig.context)
    return rig


def test_a_token_over_its_rate_gets_429_with_retry_after(build_service, tmp_path):
    rig = rig_with(build_service, tmp_path, rate_per_s=1.0, burst=20.0)
    with rig.client() as client:
        rig.activate(client)
        records = sample_records(rig.signed.frame)[:12]
        first = client.post(
            "/v1/score", json={"records": records}, headers=bearer(rig.tokens["analyst"])
        )
        second = client.post(
            "/v1/score", json={"records": records}, headers=bearer(rig.tokens["analyst"])
        )
        other = client.post(
            "/v1/score", json={"records": records[:5]}, headers=bearer(rig.tokens["admin"])
        )
    assert first.status_code == 200 and other.status_code == 200
    assert second.status_code == 429 and int(second.headers["retry-after"]) >= 1
    with rig.context.read() as store:
        refused = [e["details"] for e in store.audit.events("access.refused")]
    assert [(e["kind"], e["status"], e["endpoint"]) for e in refused] == [
        ("rate_limited", 429, "score")
    ]


def test_a_probing_token_is_flagged_audited_and_throttled_normal_traffic_is_not(
    build_service, tmp_path
):
    rig = build_service(tmp_path / "svc")
    analyst, admin = bearer(rig.tokens["analyst"]), bearer(rig.tokens["admin"])
    with rig.client() as client:
        rig.activate(client)
        frame = rig.signed.frame.drop(columns=["label"])
        for seed in range(3):  # ordinary traffic: a shuffled mix of records
            rows = frame.sample(100, random_state=seed).to_dict(orient="records")
            ok = client.post("/v1/score", json={"records": rows}, headers=admin)
            assert ok.status_code == 200
        for chunk in np.array_split(np.array(sweep(rig.signed.frame, 200), dtype=object), 2):
            client.post("/v1/score", json={"records": list(chunk)}, headers=analyst)
        abuse = client.get("/v1/abuse", headers=admin).json()
        throttled = client.post(
            "/v1/score", json={"records": sweep(rig.signed.frame, 100)}, headers=analyst
        )
    analyst_id = rig.tokens["analyst"].split("_")[1]
    assert abuse["throttled"] == [analyst_id]
    assert [e["subject"] for e in abuse["events"]] == [analyst_id]
    assert "sweep" in " ".join(abuse["events"][0]["details"]["reasons"])
    assert throttled.status_code == 429


@pytest.mark.postgres
def test_the_service_keeps_its_promises_on_postgresql(build_service, tmp_path, fresh_postgres):
    rig = build_service(tmp_path / "svc", store=fresh_postgres)
    with rig.client() as client:
        rig.activate(client)
        response = rig.score(client, sample_records(rig.signed.frame))
        alert = next(r["alert_id"] for r in response["results"] if r["action"] == "alert")
        reviewed = client.post(
            f"/v1/alerts/{alert}/review",
            headers=bearer(rig.tokens["analyst"]),
            json={"outcome": "confirmed", "comment": "seen on the wire"},
        )
        detail = client.get(f"/v1/alerts/{alert}", headers=bearer(rig.tokens["viewer"])).json()
        check = client.get("/v1/audit/verify", headers=bearer(rig.tokens["auditor"])).json()
    assert rig.context.store.db.dialect == "postgres"
    assert response["alerts_returned"] == alert_count(rig)
    assert reviewed.status_code == 200 and detail["review"]["status"] == "confirmed"
    assert sum(a["contribution"] for a in detail["attributions"]) + detail["base"] == pytest.approx(
        detail["suspicion"], abs=1e-6
    )
    assert check["ok"] and check["events"] >= 5


def test_scoring_workers_answer_exactly_as_the_service_process(build_service, tmp_path):
    records = sample_records(build_service(tmp_path / "a").signed.frame)
    answers = []
    for workers in (0, 1):
        rig = rig_with(build_service, tmp_path / f"w{workers}", scoring_workers=workers)
        with rig.client() as client:
            rig.activate(client)
            assert (rig.context.scorer._pool is not None) == (workers > 0)
            answer = rig.score(client, records)
            assert answer["alerts_returned"] == alert_count(rig)
        for r in answer["results"]:
            r.pop("alert_id", None)
        answers.append({k: v for k, v in answer.items() if k != "batch_id"})
    assert answers[0] == answers[1]
