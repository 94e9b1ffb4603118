"""Scoring workers: they score the verified bytes (never a model folder changed after
activation), a dead one is replaced (audited, health degraded meanwhile, a clean 503 for
the request it took down), and every response — 500s included — is counted and carries the
security headers."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from metric_samples import total
from conftest import bearer, sample_records
from trustshield.model_folder import load_model
from trustshield.service.app import SECURITY_HEADERS, create_app
from trustshield.service.scoring_work import score_request

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
from attacks.rig import spawned_children

RESPAWN_WITHIN_S = 60.0


@contextlib.contextmanager
def with_workers(build_service, root, workers: int):
    """A service rig scoring in ``workers`` processes; its context is closed afterwards."""
    rig = build_service(root)
    rig.settings = dataclasses.replace(rig.settings, scoring_workers=workers)
    rig.context.settings = rig.settings
    rig.app = create_app(rig.settings, context=rig.context)
    try:
        yield rig
    finally:
        rig.context.close()


def workers_now() -> set[int]:
    """The scoring workers this process runs now, found as an attacker on the machine would
    (in /proc)."""
    return set(spawned_children(os.getpid()))


def tamper(folder) -> None:
    """What an attacker with write access to the installed folder does: raise the model's
    alert and review thresholds out of reach (every record allowed), and put the new
    model.json's sha256 in the manifest so that a sha256-only check passes."""
    state = json.loads((folder / "model.json").read_text())
    state["policy"]["alert_threshold"] = state["policy"]["review_threshold"] = 1e300
    body = json.dumps(state, sort_keys=True).encode()
    (folder / "model.json").write_bytes(body)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["model.json"] = hashlib.sha256(body).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))


def decisions(answer: dict) -> list[tuple[str, float]]:
    return [(r["action"], r["suspicion"]) for r in answer["results"]]


def score_until_ok(client, rig, records, timeout: float = RESPAWN_WITHIN_S):
    """Score until a 200 comes back; (its JSON, every refused response on the way)."""
    refused, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.post(
            "/v1/score", json={"records": records}, headers=bearer(rig.tokens["analyst"])
        )
        if response.status_code == 200:
            return response.json(), refused
        refused.append(response)
        time.sleep(0.2)
    pytest.fail(f"no successful score within {timeout} s: {[r.text for r in refused[-3:]]}")


def wait_healthy(client, timeout: float = RESPAWN_WITHIN_S) -> list:
    """Poll /v1/health until it says ok; every answer on the way."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.append(client.get("/v1/health"))
        if seen[-1].status_code == 200:
            return seen
        time.sleep(0.05)
    pytest.fail(f"health still {seen[-1].json()} after {timeout} s")


def test_a_model_folder_changed_after_activation_is_never_scored(build_service, tmp_path):
    before = workers_now()
    with with_workers(build_service, tmp_path / "svc", 1) as rig, rig.client() as client:
        records = sample_records(rig.signed.frame)
        body = json.dumps({"records": records}).encode()
        signed = decisions(
            json.loads(score_request(load_model(rig.signed.folder), body, max_batch=1000).body)
        )
        model_id = rig.activate(client)
        installed = rig.settings.models_dir / model_id
        tamper(installed)
        tampered = decisions(
            json.loads(score_request(load_model(installed), body, max_batch=1000).body)
        )
        assert tampered != signed and {a for a, _ in tampered} == {"allow"}

        first = rig.score(client, records)
        assert first["model_id"] == model_id and first["alerts_returned"] > 0
        assert decisions(first) == signed
        for pid in workers_now() - before:  # the worker started next must not read
            os.kill(pid, signal.SIGKILL)  # the changed folder either
        wait_healthy(client)
        second, _ = score_until_ok(client, rig, records)
        assert decisions(second) == signed
        again = client.post(f"/v1/models/{model_id}/activate", headers=bearer(rig.tokens["admin"]))
        assert again.status_code == 422 and "signature" in again.json()["error"]["message"]
        assert decisions(rig.score(client, records)) == signed  # still the verified bytes


@pytest.mark.slow
def test_a_killed_worker_is_replaced_audited_and_health_is_degraded_meanwhile(
    build_service, tmp_path
):
    known = workers_now()
    with with_workers(build_service, tmp_path / "svc", 1) as rig, rig.client() as client:
        records = sample_records(rig.signed.frame)
        rig.activate(client)
        starting = wait_healthy(client)
        before = rig.score(client, records)
        (victim,) = workers_now() - known
        os.kill(victim, signal.SIGKILL)
        hit = client.post(
            "/v1/score", json={"records": records}, headers=bearer(rig.tokens["analyst"])
        )  # the dead worker's request
        assert hit.status_code == 503 and hit.json()["error"]["code"] == "unavailable"
        assert int(hit.headers["Retry-After"]) >= 1
        health = wait_healthy(client)
        after, refused = score_until_ok(client, rig, records, timeout=10.0)
        events = client.get(
            "/v1/audit",
            params={"action": "scoring.worker_restarted"},
            headers=bearer(rig.tokens["auditor"]),
        ).json()["items"]
        metrics = client.get("/v1/metrics", headers=bearer(rig.tokens["admin"])).text
        replacement = workers_now() - known - {victim}
    assert all(r.status_code == 503 for r in refused)
    degraded = [h for h in health if h.status_code == 503]
    assert degraded and all(h.json()["status"] == "degraded" for h in degraded)
    assert health[-1].json()["status"] == "ok"
    assert decisions(after) == decisions(before)
    assert len(replacement) == 1
    assert len(events) == 1 and events[0]["actor"] == "service"
    assert events[0]["details"]["pid"] == victim and "SIGKILL" in events[0]["details"]["reason"]
    assert total(metrics, "trustshield_scoring_worker_restarts_total") == 1
    all_503 = 1 + len(refused) + len(degraded) + sum(h.status_code == 503 for h in starting)
    assert total(metrics, "trustshield_http_requests_total", status="503") == all_503


def test_every_response_is_counted_and_carries_the_security_headers(service_rig):
    app = service_rig.app

    @app.get("/v1/crash-for-test")
    def crash():
        raise RuntimeError("an unhandled failure")

    with service_rig.client(raise_server_exceptions=False) as client:
        answers = [
            client.get("/v1/health"),  # 200
            client.get("/v1/alerts"),  # 401
            client.get("/v1/alerts", headers=bearer(service_rig.tokens["viewer"])),
            client.get("/v1/no-such-thing"),  # 404
            client.get("/v1/crash-for-test"),  # 500
            client.get("/v1/crash-for-test"),
        ]
        metrics = client.get("/v1/metrics", headers=bearer(service_rig.tokens["admin"])).text
    assert [a.status_code for a in answers] == [200, 401, 200, 404, 500, 500]
    for answer in answers:
        for name, value in SECURITY_HEADERS.items():
            assert answer.headers.get(name) == value, (answer.status_code, name)
    assert answers[-1].json()["error"]["code"] == "internal"
    assert total(metrics, "trustshield_http_requests_total", status="500") == 2
    assert total(metrics, "trustshield_http_requests_total", status="401") == 1
    assert total(metrics, "trustshield_http_requests_total", status="404") == 1
    assert (
        total(
            metrics,
            "trustshield_http_requests_total",
            method="GET",
            route="/v1/crash-for-test",
            status="500",
        )
        == 2
    )
    assert total(metrics, "trustshield_http_requests_total", route="unmatched") == 1
