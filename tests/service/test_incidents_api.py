"""/v1/incidents: list with filters (unknown parameters refused), detail with evidence,
evidence flows, roles, and the audited review whose outcome becomes a training label."""

from __future__ import annotations

import pytest

from conftest import bearer
from incident_samples import sample

MODEL = "beh0123456789abc"


@pytest.fixture(scope="module")
def rig(build_service, tmp_path_factory):
    rig = build_service(tmp_path_factory.mktemp("incidents"))
    a = sample()
    b = sample(host="10.0.0.7", start=a[0].first_seen + 7200, severity="high")
    c = sample(host="10.0.0.8", start=a[0].first_seen + 3600, severity="low")
    with rig.context.write("test-setup") as store:
        rig.ids = store.incidents.add(MODEL, "conn.log", [a[:2], b[:2], c[:2]])
    return rig


def get(rig, path: str, role: str = "viewer", status: int = 200) -> dict:
    response = rig.client().get(path, headers=bearer(rig.tokens[role]))
    assert response.status_code == status, response.text
    return response.json()


def test_the_list_is_most_severe_first_and_filters(rig):
    page = get(rig, "/v1/incidents")
    assert [i["severity"] for i in page["items"]] == ["high", "medium", "low"]
    assert page["total"] == 3 and page["next_offset"] is None
    assert get(rig, "/v1/incidents?host=10.0.0.7")["total"] == 1
    assert get(rig, "/v1/incidents?severity=low")["items"][0]["host"] == "10.0.0.8"
    assert get(rig, "/v1/incidents?technique=T1571")["total"] == 3
    assert get(rig, "/v1/incidents?limit=1")["next_offset"] == 1
    refused = get(rig, "/v1/incidents?hots=10.0.0.7", status=422)
    assert "hots" in refused["error"]["message"]
    get(rig, "/v1/incidents?technique=T1%25", status=422)
    get(rig, "/v1/incidents?severity=urgent", status=422)


def test_the_detail_holds_evidence_timeline_and_histograms(rig):
    key = rig.ids[0]
    detail = get(rig, f"/v1/incidents/{key}")
    assert detail["host"] == "10.0.0.5" and len(detail["evidence_uids"]) == 40
    assert detail["base"] + sum(detail["attributions"].values()) == pytest.approx(
        detail["suspicion"]
    )
    assert sum(detail["timeline"]["evidence"]) == 40
    assert detail["histograms"][0]["channel"] == "203.0.113.9:6667/tcp"
    assert "one every 30.0 s" in detail["behaviours"][0]["evidence"]
    flows = get(rig, f"/v1/incidents/{key}/flows?limit=10")
    assert flows["total"] == 40 and len(flows["items"]) == 10 and flows["next_offset"] == 10
    assert {f["uid"] for f in flows["items"]} <= set(detail["evidence_uids"])
    get(rig, "/v1/incidents/nope", status=404)
    get(rig, "/v1/incidents/nope/flows", status=404)


def test_roles_and_the_audited_review(rig):
    key = rig.ids[1]
    path = f"/v1/incidents/{key}/review"
    body = {"outcome": "confirmed", "comment": "C&C beacon"}
    assert rig.client().get("/v1/incidents").status_code == 401
    for role in ("viewer", "auditor"):
        response = rig.client().post(path, json=body, headers=bearer(rig.tokens[role]))
        assert response.status_code == 403
    get(rig, "/v1/incidents", role="red-team", status=403)
    response = rig.client().post(path, json=body, headers=bearer(rig.tokens["analyst"]))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "confirmed"
    bad = rig.client().post(
        path, json={"outcome": "maybe", "comment": "x"}, headers=bearer(rig.tokens["analyst"])
    )
    assert bad.status_code == 422
    assert get(rig, "/v1/incidents?status=confirmed")["items"][0]["incident_id"] == key
    with rig.context.read() as store:
        (event,) = store.audit.events("incident.review")
        labels = store.incidents.reviewed()
    assert event["subject"] == key and event["details"]["outcome"] == "confirmed"
    assert event["actor"] != "service"
    assert [(r.incident_id, r.outcome) for r in labels] == [(key, "confirmed")]
