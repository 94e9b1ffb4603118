"""Every endpoint against every role: allowed → 2xx, forbidden → 403, no token → 401.

The expected outcome comes from ``access.PERMISSIONS``; a second test checks that table
covers exactly the API's routes, so a new endpoint cannot slip in without a rule.
"""

from __future__ import annotations

import json

import pytest
from conftest import CHEAP_HASHER, bearer, sample_records
from incident_samples import sample

from trustshield.config import ROLES
from trustshield.service.access import PERMISSIONS
from trustshield.service.app import API_ROUTERS
from trustshield.store import tokens as token_table

#: endpoint name → (method, path template, body factory or None)
ENDPOINTS = {
    "health": ("GET", "/v1/health", None),
    "metrics": ("GET", "/v1/metrics", None),
    "score": ("POST", "/v1/score", lambda s: {"records": sample_records(s.frame, per_kind=1)}),
    "alerts.list": ("GET", "/v1/alerts?limit=5", None),
    "drift.list": ("GET", "/v1/drift", None),
    "alerts.get": ("GET", "/v1/alerts/{alert}", None),
    "alerts.review": (
        "POST",
        "/v1/alerts/{alert}/review",
        lambda s: {"outcome": "dismissed", "comment": "role matrix"},
    ),
    "reviews.list": ("GET", "/v1/reviews?status=open", None),
    "reviews.pick": ("POST", "/v1/reviews", lambda s: {"alert_id": s.fresh_alert(), "note": "x"}),
    "reviews.export": ("GET", "/v1/reviews/export", None),
    "incidents.list": ("GET", "/v1/incidents?severity=medium", None),
    "incidents.get": ("GET", "/v1/incidents/{incident}", None),
    "incidents.review": (
        "POST",
        "/v1/incidents/{incident}/review",
        lambda s: {"outcome": "confirmed", "comment": "role matrix"},
    ),
    "models.list": ("GET", "/v1/models", None),
    "models.upload": ("POST", "/v1/models", lambda s: s.signed.bundle()),
    "models.activate": ("POST", "/v1/models/{model}/activate", None),
    "reports.get": ("GET", "/v1/reports/{model}", None),
    "practices.list": ("GET", "/v1/practices", None),
    "audit.list": ("GET", "/v1/audit?limit=10", None),
    "audit.verify": ("GET", "/v1/audit/verify", None),
    "settings.get": ("GET", "/v1/settings", None),
    "settings.update": ("PUT", "/v1/settings", lambda s: {"retention_days": 30}),
    "retention.apply": ("POST", "/v1/retention/apply", None),
    "abuse.list": ("GET", "/v1/abuse", None),
    "tokens.list": ("GET", "/v1/tokens", None),
    "tokens.revoke": ("POST", "/v1/tokens/{token}/revoke", None),
    "abuse.lift": ("POST", "/v1/abuse/{throttled}/lift", lambda s: {"reason": "role matrix"}),
    "redteam.evade": ("POST", "/v1/redteam/evade", lambda s: s.evade_body()),
    "redteam.runs": ("GET", "/v1/redteam/runs", None),
}


class Scene:
    """A started service with the signed model active and one scored batch."""

    def __init__(self, rig, client):
        self.rig, self.client, self.signed = rig, client, rig.signed
        self.frame = rig.signed.frame
        self.model = rig.activate(client)
        result = rig.score(client, sample_records(self.frame))
        self.alert = next(r["alert_id"] for r in result["results"] if r.get("alert_id"))
        folder = rig.settings.reports_dir / self.model
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps({"model": {"model_id": self.model}}))
        (folder / "report.html").write_text("<html><body>trust report</body></html>")
        incident, evidence, _ = sample()
        with rig.context.write("test-setup") as store:
            (self.incident,) = store.incidents.add("behaviour", "conn.log", [(incident, evidence)])

    def fresh_alert(self) -> str:
        """An alert not yet in the review queue (scoring more records when none is left)."""
        page = self.client.get(
            "/v1/alerts?review_status=none&limit=1", headers=bearer(self.rig.tokens["admin"])
        ).json()
        if page["items"]:
            return page["items"][0]["alert_id"]
        result = self.rig.score(self.client, sample_records(self.frame))
        return next(r["alert_id"] for r in result["results"] if r["action"] == "alert")

    def spare_token(self) -> str:
        """The id of a new viewer token, for an endpoint that revokes one."""
        with pytest.MonkeyPatch.context() as patch, self.rig.context.write("test-setup"):
            patch.setattr(token_table, "_HASHER", CHEAP_HASHER)
            return self.rig.context.tokens.create("spare (test)", ["viewer"])[1].token_id

    def throttled(self) -> str:
        """The id of a throttled token (throttled again when a lift ended it)."""
        with self.rig.context.write("test"):
            self.rig.context.throttles.flag("0123456789ab", {"reasons": ["role matrix"]})
        return "0123456789ab"

    def evade_body(self) -> dict:
        attacks = self.frame[self.frame["label"] != "normal"].head(6)
        records = [
            {k: (v if isinstance(v, str) else float(v)) for k, v in row.items()}
            for row in attacks.to_dict(orient="records")
        ]
        return {"purpose": "role matrix", "records": records, "max_records": 2}


@pytest.fixture(scope="module")
def scene(build_service, tmp_path_factory):
    rig = build_service(tmp_path_factory.mktemp("roles"))
    with rig.client() as client:
        yield Scene(rig, client)


def call(scene, endpoint: str, token: str | None):
    method, template, body = ENDPOINTS[endpoint]
    spare = scene.spare_token() if "{token}" in template else None
    throttled = scene.throttled() if "{throttled}" in template else None
    path = template.format(
        alert=scene.alert,
        model=scene.model,
        token=spare,
        throttled=throttled,
        incident=scene.incident,
    )
    headers = bearer(token) if token else {}
    payload = body(scene) if body else None
    return scene.client.request(method, path, json=payload, headers=headers)


CASES = [(endpoint, role) for endpoint in ENDPOINTS for role in (*ROLES, None)]


@pytest.mark.parametrize("endpoint, role", CASES, ids=[f"{e}-{r}" for e, r in CASES])
def test_role_matrix(scene, endpoint, role):
    allowed = PERMISSIONS[endpoint]
    response = call(scene, endpoint, scene.rig.tokens[role] if role else None)
    if allowed is None or (role is not None and role in allowed):
        assert 200 <= response.status_code < 300, response.text
    elif role is None:
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    else:
        assert response.status_code == 403
    if response.status_code >= 400:
        assert set(response.json()["error"]) >= {"status", "code", "message"}


def test_the_permission_table_covers_exactly_the_api_routes():
    names, public = set(), set()
    for route in (r for router in API_ROUTERS for r in router.routes):
        found = [getattr(d.call, "endpoint_name", None) for d in route.dependant.dependencies]
        found = [name for name in found if name]
        names.update(found)
        if not found:
            public.add(route.path)
    assert public == {"/v1/health"}
    assert names | {"health"} == set(PERMISSIONS) == set(ENDPOINTS)


def test_a_revoked_token_is_refused_at_once(scene):
    token, info = scene.rig.context.tokens.create("short-lived", ["viewer"])
    assert scene.client.get("/v1/alerts", headers=bearer(token)).status_code == 200
    scene.rig.context.tokens.revoke(info.token_id)
    assert scene.client.get("/v1/alerts", headers=bearer(token)).status_code == 401
