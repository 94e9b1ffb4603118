"""Revoking tokens while the service runs, and dashboard sessions as their own short-lived
credential: a revoked token is refused on its next request (DuckDB and PostgreSQL, also
right after a cached check) and its sessions end; signing out ends the session; the
cookie holds a session secret, never the token, and is no API credential."""

from __future__ import annotations

import hashlib

import pytest
from conftest import bearer, csrf_of, sign_in

from trustshield.service.access import COOKIE


@pytest.fixture
def any_store_rig(build_service, tmp_path, store_target):
    rig = build_service(tmp_path / "service", store=str(store_target))
    yield rig
    rig.context.close()


def test_an_admin_revokes_a_token_through_the_api_and_its_next_request_is_refused(any_store_rig):
    rig = any_store_rig
    api, browser = rig.client(), rig.client()
    analyst = bearer(rig.tokens["analyst"])
    assert api.get("/v1/alerts", headers=analyst).status_code == 200  # verified and cached
    assert sign_in(browser, rig.tokens["analyst"]).status_code == 303
    assert browser.get("/ui/alerts", follow_redirects=False).status_code == 200
    analyst_id = rig.tokens["analyst"].split("_")[1]

    revoked = api.post(f"/v1/tokens/{analyst_id}/revoke", headers=bearer(rig.tokens["admin"]))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] and revoked.json()["sessions_ended"] == 1

    refused = api.get("/v1/alerts", headers=analyst)
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    page = browser.get("/ui/alerts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
    with rig.context.read():
        assert rig.context.sessions.count() == 0
        events = rig.context.store.audit.events("token.revoke", subject=analyst_id)
    assert len(events) == 1 and events[0]["actor"].endswith("(admin (test))")
    assert events[0]["details"]["sessions_ended"] == 1
    again = api.post(f"/v1/tokens/{analyst_id}/revoke", headers=bearer(rig.tokens["admin"]))
    assert again.status_code == 409 and "already revoked" in again.json()["error"]["message"]


def test_revoking_an_unknown_or_malformed_id_changes_nothing(service_rig):
    client, admin = service_rig.client(), bearer(service_rig.tokens["admin"])
    before = len(service_rig.context.store.audit.events())
    assert client.post("/v1/tokens/0123456789ab/revoke", headers=admin).status_code == 404
    assert client.post("/v1/tokens/NOT-AN-ID/revoke", headers=admin).status_code == 422
    assert len(service_rig.context.store.audit.events("token.revoke")) == 0
    assert len(service_rig.context.store.audit.events()) == before


def test_the_token_list_names_every_token_without_its_secret(service_rig):
    response = service_rig.client().get("/v1/tokens", headers=bearer(service_rig.tokens["admin"]))
    assert response.status_code == 200
    items = response.json()["items"]
    assert sorted(r for item in items for r in item["roles"]) == sorted(service_rig.tokens)
    assert all(item["revoked_at"] is None for item in items)
    for token in service_rig.tokens.values():
        assert token[len("tsk_0123456789ab_") :] not in response.text
    assert "argon2" not in response.text


def test_signing_out_ends_the_session_and_the_old_cookie_stops_working(service_rig):
    rig = service_rig
    client = rig.client()
    assert sign_in(client, rig.tokens["viewer"]).status_code == 303
    session = client.cookies[COOKIE]
    assert session != rig.tokens["viewer"] and rig.tokens["viewer"] not in session
    token = csrf_of(client.get("/ui/logout").text)
    assert (
        client.post("/ui/logout", data={"csrf": token}, follow_redirects=False).status_code == 303
    )
    replay = rig.client(cookies={COOKIE: session})  # someone kept a copy of the cookie
    page = replay.get("/ui/alerts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/ui/login")
    assert replay.get("/ui/alerts?format=json").status_code == 401
    with rig.context.read():
        ended = rig.context.store.audit.events("session.end")
        started = rig.context.store.audit.events("session.start")
    assert len(started) == len(ended) == 1
    assert ended[0]["details"]["session"] == started[0]["details"]["session"]
    assert ended[0]["actor"].endswith("(viewer (test))")


def test_only_a_hash_of_the_session_secret_is_stored_or_audited(service_rig):
    rig = service_rig
    client = rig.client()
    assert sign_in(client, rig.tokens["auditor"]).status_code == 303
    secret = client.cookies[COOKIE]
    with rig.context.read() as store:
        rows = store.db.execute("SELECT * FROM dashboard_sessions").fetchall()
        events = store.audit.events()
    stored = " ".join(str(cell) for row in rows for cell in row)
    assert secret not in stored and hashlib.sha256(secret.encode()).hexdigest() in stored
    assert secret not in str(events)


def test_the_session_cookie_is_not_an_api_credential(scored):
    client, rig, response = scored
    alert = next(r["alert_id"] for r in response["results"] if r.get("alert_id"))
    assert sign_in(client, rig.tokens["analyst"]).status_code == 303
    session = client.cookies[COOKIE]
    assert client.get(f"/ui/alerts/{alert}").status_code == 200
    client.cookies.set(COOKIE, session, path="/")  # even if a browser sent it to /v1
    assert client.get(f"/v1/alerts/{alert}").status_code == 401
    posted = client.post(
        f"/v1/alerts/{alert}/review", json={"outcome": "dismissed", "comment": "x"}
    )
    assert posted.status_code == 401
    as_bearer = rig.client().get(f"/v1/alerts/{alert}", headers=bearer(session))
    assert as_bearer.status_code == 401
    client.cookies.clear()
    client.cookies.set(COOKIE, rig.tokens["analyst"])  # the token itself is no session
    assert client.get("/ui/alerts", follow_redirects=False).status_code == 303
