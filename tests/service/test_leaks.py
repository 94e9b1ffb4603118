"""Small leaks and lax types (issue 13, weakness 12): no answer names a server path,
anonymous health says only its status, integer features take JSON numbers only and an
unknown top-level key of a score body is refused."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from conftest import bearer, sample_records

from trustshield.service.errors import public_message


def no_path(rig, text: str) -> bool:
    """True when ``text`` names none of the rig's folders (nor any /tmp path) nor a
    database URL."""
    root = str(rig.settings.models_dir.parent)
    return not any(
        place in text for place in (root, "/tmp/", str(rig.context.store.path), "postgresql:")
    )


def test_not_found_answers_do_not_name_the_store(build_service, tmp_path, store_target):
    rig = build_service(tmp_path / "svc", store=str(store_target))
    viewer = bearer(rig.tokens["viewer"])
    with rig.client() as client:
        rig.activate(client)
        api = client.get("/v1/alerts/no-such-alert", headers=viewer)
        twin = client.get("/ui/alerts/no-such-alert?format=json", headers=viewer)
        page = client.get("/ui/alerts/no-such-alert", headers=viewer)
    assert api.status_code == twin.status_code == page.status_code == 404
    assert api.json()["error"]["message"] == "no alert with id 'no-such-alert' in the store"
    for response in (api, twin, page):
        assert no_path(rig, response.text), response.text


def test_a_refused_model_is_named_without_its_folder(service_client, service_rig):
    model_id = service_rig.signed.model_id
    (service_rig.settings.models_dir / model_id / "spec.yaml").write_text("tampered: true\n")
    response = service_client.post(
        f"/v1/models/{model_id}/activate", headers=bearer(service_rig.tokens["admin"])
    )
    assert response.status_code == 422
    assert no_path(service_rig, response.text), response.text
    assert "spec.yaml" in response.json()["error"]["message"]


def test_public_message_names_places_by_role(service_rig):
    request = type("R", (), {"app": service_rig.app})()
    models = service_rig.settings.models_dir
    assert (
        public_message(request, f"{models}/abc/model.json: bad") == "<models>/abc/model.json: bad"
    )
    assert public_message(request, "read /etc/shadow/x or /srv/a/b.") == "read <path> or <path>"
    assert (
        public_message(request, "see POST /v1/models/{id}/activate")
        == "see POST /v1/models/{id}/activate"
    )
    service_rig.context.settings = replace(service_rig.settings, models_dir=Path("m"))
    assert public_message(request, "m/abc: a model named m") == "<models>/abc: a model named m"


def test_anonymous_health_names_no_model(service_client, service_rig):
    anonymous = service_client.get("/v1/health")
    bad_token = service_client.get("/v1/health", headers=bearer("tsk_0123456789ab_" + "x" * 43))
    viewer = service_client.get("/v1/health", headers=bearer(service_rig.tokens["viewer"]))
    assert anonymous.json() == bad_token.json() == {"status": "ok"}
    assert viewer.json()["active_model"] == service_rig.signed.model_id
    assert viewer.json()["uptime_s"] >= 0


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("n", True, "a JSON number (an integer in [0, 1000]), not true"),
        ("b", False, "a JSON number (0 or 1), not false"),
        ("n", "3", "a JSON number (an integer in [0, 1000]), not a string"),
        ("r", "0.5", "a JSON number (a number in [0, 1]), not a string"),
        ("n", 3.5, "an integer in [0, 1000]"),
        ("p", 1, "a JSON string (one of {tcp, udp, icmp}), not int"),
        ("label", 7, "a JSON string (text), not int"),
        ("user", "u" * 300, "at most 256 characters; got 300"),
    ],
)
def test_a_value_of_the_wrong_json_type_is_refused_naming_row_and_field(
    service_client, service_rig, field, value, expected
):
    records = sample_records(service_rig.signed.frame)
    records[3][field] = value
    response = service_client.post(
        "/v1/score", json={"records": records}, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert [(d["row"], d["field"], d["expected"]) for d in details] == [(3, field, expected)]


def test_integer_features_take_whole_numbers_written_either_way(service_client, service_rig):
    record = sample_records(service_rig.signed.frame)[0]
    records = [{**record, "n": 12}, {**record, "n": 12.0}]
    response = service_client.post(
        "/v1/score", json={"records": records}, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["suspicion"] == second["suspicion"]


def test_an_unknown_top_level_key_is_refused(service_client, service_rig):
    body = {"records": sample_records(service_rig.signed.frame), "model": "other"}
    response = service_client.post(
        "/v1/score", json=body, headers=bearer(service_rig.tokens["analyst"])
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["model"]
