"""Refused requests are audited, aggregated: a single refusal is on record at once, and a
flood of refusals yields a bounded number of ``access.refused`` events whose counts add up
to the number of refused requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import bearer, csrf_of
from starlette.requests import Request
from test_token_check import wrong_secret

from trustshield.service import access
from trustshield.service.errors import ApiError


def refused_events(rig) -> list[dict]:
    with rig.context.read() as store:
        return [e["details"] for e in store.audit.events("access.refused")]


def test_a_single_refusal_is_audited_at_once(service_rig):
    client = service_rig.client()
    assert client.get("/v1/audit").status_code == 401
    [event] = refused_events(service_rig)
    assert event["count"] == 1 and event["status"] == 401 and event["kind"] == "no_credential"
    assert event["endpoint"] == "audit.list" and event["client"] == "testclient"
    assert event["token_id"] is None and event["first_at"] == event["last_at"]


def test_a_403_on_a_red_team_endpoint_names_the_token(service_rig):
    client = service_rig.client()
    admin = service_rig.tokens["admin"]
    assert client.get("/v1/redteam/runs", headers=bearer(admin)).status_code == 403
    [event] = refused_events(service_rig)
    assert (event["kind"], event["status"], event["endpoint"]) == ("forbidden", 403, "redteam.runs")
    assert event["token_id"] == admin.split("_")[1]


def test_failed_dashboard_sign_ins_are_audited_with_the_token_they_tried(service_rig):
    client = service_rig.client()
    analyst = service_rig.tokens["analyst"]
    form = csrf_of(client.get("/ui/login").text)
    response = client.post("/ui/login", data={"csrf": form, "token": wrong_secret(analyst)})
    assert response.status_code == 401
    [event] = refused_events(service_rig)
    assert (event["kind"], event["endpoint"]) == ("sign_in_failed", "ui.login")
    assert event["token_id"] == analyst.split("_")[1]


def test_a_flood_of_refused_requests_is_a_few_events_with_the_right_total(service_rig, monkeypatch):
    """1,000 refused requests over HTTP (no token, wrong secrets that turn into 429s, a role
    refused): a handful of events, counts adding up to 1,000 once the service stops."""
    rig = service_rig
    monkeypatch.setattr(access, "LOCKED_OUT_DELAY_S", 0.0, raising=False)
    wrong, viewer = bearer(wrong_secret(rig.tokens["analyst"])), bearer(rig.tokens["viewer"])

    async def flood() -> list[int]:  # straight to the app: TestClient costs ~8 ms a request
        transport = httpx.ASGITransport(app=rig.app, client=("testclient", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            found = [
                (await client.get("/v1/audit", headers=h)).status_code
                for h in ({}, wrong, viewer)
                for _ in range(333)
            ]
            return found + [(await client.get("/v1/metrics")).status_code]

    statuses = asyncio.run(flood())
    assert set(statuses) == {401, 403, 429} and len(statuses) == 1000
    during = refused_events(rig)  # the first of each kind, at once
    assert sorted((e["kind"], e["endpoint"]) for e in during) == [
        ("bad_token", "audit.list"),
        ("forbidden", "audit.list"),
        ("no_credential", "audit.list"),
        ("no_credential", "metrics"),
        ("too_many_failures", "audit.list"),
    ]
    rig.context.close()
    from trustshield.store import AlertStore

    with AlertStore(rig.settings.store) as store:
        events = [e["details"] for e in store.audit.events("access.refused")]
    assert len(events) <= 2 * len(during)
    assert sum(e["count"] for e in events) == 1000


def test_counts_still_held_are_written_when_the_app_stops(service_rig):
    with service_rig.client() as client:  # runs the app's lifespan
        for _ in range(5):
            assert client.get("/v1/alerts").status_code == 401
        assert [e["count"] for e in refused_events(service_rig)] == [1]
    assert [e["count"] for e in refused_events(service_rig)] == [1, 4]


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


def request_for(app, path: str, headers: dict[str, str], client: str) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": (client, 1234),
        "server": ("testserver", 80),
        "scheme": "http",
        "app": app,
        "root_path": "",
    }
    return Request(scope)


def test_ten_thousand_refusals_across_windows_stay_bounded_and_add_up(service_rig):
    """10,000 refused requests through the access check, over five minutes of (simulated)
    time and two clients: at most two events per (refusal, client) per 60 s window."""
    rig = service_rig
    clock = Clock()
    rig.context.refusals.clock = clock
    refused = 0
    for k in range(10_000):
        clock.now += 0.03  # 10,000 requests over 300 s
        request = request_for(rig.app, "/v1/alerts", {}, f"10.0.0.{k % 2}")
        with pytest.raises(ApiError):
            access.authorise(request, "alerts.list")
        refused += 1
    rig.context.refusals.close()
    events = refused_events(rig)
    windows = 300 / rig.settings.refusal_window_s
    assert len(events) <= 2 * 2 * (windows + 1)
    assert sum(e["count"] for e in events) == refused == 10_000
    assert {e["client"] for e in events} == {"10.0.0.0", "10.0.0.1"}
