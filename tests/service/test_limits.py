"""Request limits (issue 13, weakness 5): nobody's body is read before the caller is
authorised, bodies are capped per route, batches are counted before they are validated,
and free text is bounded. Each test performs the attack as reported.

Bodies are fed to the ASGI app one chunk at a time by :func:`call`, which counts how many
chunks the service pulled: "refused unread" means it pulled none.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import bearer, sample_records

from trustshield.service.app import API_ROUTERS

MB = 1_000_000
BLOCK = b"x" * MB


def call(
    app, method: str, path: str, *, headers: dict, chunks: int, declare: bool = True
) -> tuple[int, dict, int]:
    """Send ``chunks`` MB of body to ``app`` (declared with Content-Length, or chunked
    when ``declare`` is False); (status, JSON answer, chunks the app pulled)."""
    pulled, sent = 0, []

    async def receive():
        nonlocal pulled
        if pulled < chunks:
            pulled += 1
            return {"type": "http.request", "body": BLOCK, "more_body": pulled < chunks}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    framing = {"content-length": str(chunks * MB)} if declare else {"transfer-encoding": "chunked"}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8700),
        "headers": [
            (k.lower().encode(), v.encode())
            for k, v in {"content-type": "application/json", **framing, **headers}.items()
        ],
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 60))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), pulled


#: every API route that takes a body, with ids filled in
BODY_ROUTES = sorted(
    {
        (
            method,
            route.path.replace("{alert_id}", "a-1")
            .replace("{model_id}", "m1")
            .replace("{token_id}", "0123456789ab"),
        )
        for router in API_ROUTERS
        for route in router.routes
        for method in route.methods & {"POST", "PUT", "PATCH", "DELETE"}
    }
)


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
@pytest.mark.parametrize("method, path", BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_a_94mb_body_without_a_token_is_refused_unread(service_rig, method, path, declare):
    status, answer, pulled = call(
        service_rig.app, method, path, headers={}, chunks=94, declare=declare
    )
    assert status in (401, 413), answer
    assert pulled == 0


@pytest.mark.parametrize("method, path", BODY_ROUTES, ids=[f"{m} {p}" for m, p in BODY_ROUTES])
def test_a_body_from_a_role_that_may_not_send_it_is_refused_unread(service_rig, method, path):
    status, _, pulled = call(
        service_rig.app,
        method,
        path,
        chunks=3,
        declare=False,
        headers=bearer(service_rig.tokens["viewer"]),
    )
    assert (status, pulled) == (403, 0)


def test_a_declared_body_over_the_cap_is_refused_before_it_is_read(service_client, service_rig):
    status, answer, pulled = call(
        service_rig.app,
        "POST",
        "/v1/score",
        chunks=94,
        headers=bearer(service_rig.tokens["analyst"]),
    )
    limit = service_rig.settings.max_records_body_bytes
    assert (status, pulled) == (413, 0)
    assert answer["error"]["message"] == (
        f"the request body is {94 * MB} bytes; at most {limit} bytes are accepted here"
    )


def test_a_chunked_body_over_the_cap_is_cut_off_at_the_cap(service_client, service_rig):
    status, answer, pulled = call(
        service_rig.app,
        "POST",
        "/v1/score",
        chunks=94,
        declare=False,
        headers=bearer(service_rig.tokens["analyst"]),
    )
    cap_chunks = service_rig.settings.max_records_body_bytes // MB + 1
    assert status == 413 and answer["error"]["code"] == "too_large"
    assert pulled == cap_chunks


def stored(rig) -> tuple[int, int]:
    """(alerts, score.batch events) in the rig's store."""
    with rig.context.read() as store:
        alerts = store.db.execute("SELECT count(*) FROM alerts").fetchone()[0]
        return alerts, len(store.audit.events("score.batch"))


def test_a_50mb_label_is_refused_and_nothing_is_stored(service_client, service_rig):
    record = {**sample_records(service_rig.signed.frame)[5], "label": "x" * (50 * MB)}
    response = service_client.post(
        "/v1/score",
        content=json.dumps({"records": [record]}),
        headers={**bearer(service_rig.tokens["analyst"]), "content-type": "application/json"},
    )
    assert response.status_code == 413
    assert stored(service_rig) == (0, 0)


def test_a_label_over_the_spec_limit_is_refused_naming_field_and_maximum(
    service_client, service_rig
):
    records = sample_records(service_rig.signed.frame)
    records[2]["label"] = "y" * 100_000
    response = service_client.post(
        "/v1/score", json={"records": records}, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["row"], d["field"], d["expected"]) for d in details] == [
        (2, "label", "at most 200 characters; got 100000")
    ]
    assert len(details[0]["value"]) == 80  # what is quoted back is cut short
    assert stored(service_rig) == (0, 0)


@pytest.mark.parametrize(
    "path, role, body",
    [
        ("/v1/alerts/a-1/review", "analyst", {"outcome": "confirmed", "comment": "z" * (50 * MB)}),
        ("/v1/redteam/evade", "red-team", {"purpose": "p" * (50 * MB), "records": [{}]}),
        ("/v1/settings", "admin", {"retention_days": 30, "note": "n" * (50 * MB)}),
    ],
)
def test_50mb_of_free_text_anywhere_is_refused_unparsed(
    service_client, service_rig, path, role, body
):
    method = "PUT" if path == "/v1/settings" else "POST"
    response = service_client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**bearer(service_rig.tokens[role]), "content-type": "application/json"},
    )
    assert response.status_code == 413
    with service_rig.context.read() as store:
        assert store.audit.events("review.decide") == []
        assert store.audit.events("config.change", subject="retention_days") == []


def test_a_100k_record_batch_is_refused_before_any_record_is_validated(
    service_client, service_rig, monkeypatch
):
    calls = []
    real = service_rig.context.scorer.score
    monkeypatch.setattr(
        service_rig.context.scorer, "score", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    response = service_client.post(
        "/v1/score", json={"records": [{}] * 100_000}, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 413
    assert response.json()["error"]["message"] == "100000 records in one batch; at most 1000"
    assert calls == []


@pytest.mark.parametrize(
    "body, field",
    [
        ({"records": [{"n": 1}], "extra": 1}, "extra"),
        ({"records": {"n": 1}}, "records"),
        ({"records": []}, "records"),
        (["records"], "body"),
    ],
)
def test_a_body_of_the_wrong_shape_is_refused_naming_the_field(
    service_client, service_rig, body, field
):
    response = service_client.post(
        "/v1/score", json=body, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["error"]["details"]]
