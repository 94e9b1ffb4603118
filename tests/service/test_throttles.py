"""Rate limits (issue 13, weakness 9): charged before scoring, throttles kept in the store
across restarts and lifted only by an admin (audited), and the default per-token rate
derived from the active model's measured scoring capacity."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest
from metric_samples import samples
from conftest import bearer, sample_records, sweep

from trustshield.service import scoring_work
from trustshield.service.app import create_app
from trustshield.service.capacity import (
    BURST_SECONDS,
    CAPACITY_SHARE,
    FALLBACK_RATE,
    Capacity,
    Rates,
    measure,
    rates_for,
)
from trustshield.service.capacity import sample_records as capacity_sample
from trustshield.service.context import ServiceContext
from trustshield.service.ratelimit import RateLimiter


def probe(client, rig) -> str:
    """Scan one feature as the analyst until the probing monitor flags the token; its id."""
    for chunk in np.array_split(np.array(sweep(rig.signed.frame, 200), dtype=object), 2):
        client.post(
            "/v1/score", json={"records": list(chunk)}, headers=bearer(rig.tokens["analyst"])
        )
    return rig.tokens["analyst"].split("_")[1]


def spy_on_scoring(monkeypatch, context) -> list:
    """Calls of the context's scorer, recorded as they happen."""
    calls, real = [], context.scorer.score
    monkeypatch.setattr(context.scorer, "score", lambda *a, **k: calls.append(1) or real(*a, **k))
    return calls


def test_a_throttled_token_is_refused_without_scoring(service_client, service_rig, monkeypatch):
    token_id = probe(service_client, service_rig)
    assert service_client.get("/v1/abuse", headers=bearer(service_rig.tokens["admin"])).json()[
        "throttled"
    ] == [token_id]
    calls = spy_on_scoring(monkeypatch, service_rig.context)
    refused = service_client.post(
        "/v1/score",
        json={"records": sweep(service_rig.signed.frame, 100)},
        headers=bearer(service_rig.tokens["analyst"]),
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert calls == []


def test_a_token_over_its_rate_costs_no_scoring(build_service, tmp_path, monkeypatch):
    rig = build_service(tmp_path / "svc")
    rig.context.settings = dataclasses.replace(rig.settings, rate_per_s=1.0, burst=20.0)
    rig.context.limiter = RateLimiter(rate_per_s=1.0, burst=20.0)
    with rig.client() as client:
        rig.activate(client)
        records = sample_records(rig.signed.frame)[:12]
        assert (
            client.post(
                "/v1/score", json={"records": records}, headers=bearer(rig.tokens["analyst"])
            ).status_code
            == 200
        )
        calls = spy_on_scoring(monkeypatch, rig.context)
        again = client.post(
            "/v1/score", json={"records": records}, headers=bearer(rig.tokens["analyst"])
        )
    assert again.status_code == 429 and calls == []


def restarted(rig):
    """A new context and app on the same store and folders, as after a restart."""
    rig.context.close()
    context = ServiceContext(rig.settings)
    return dataclasses.replace(rig, context=context, app=create_app(rig.settings, context=context))


def test_a_throttle_survives_a_restart_until_an_admin_lifts_it(
    build_service, tmp_path, store_target
):
    rig = build_service(tmp_path / "svc", store=str(store_target))
    with rig.client() as client:
        rig.activate(client)
        token_id = probe(client, rig)
    rig = restarted(rig)
    analyst, admin = bearer(rig.tokens["analyst"]), bearer(rig.tokens["admin"])
    records = {"records": sample_records(rig.signed.frame, per_kind=25)}  # 100 records
    with rig.client() as client:
        assert client.get("/v1/abuse", headers=admin).json()["throttled"] == [token_id]
        assert client.post("/v1/score", json=records, headers=analyst).status_code == 429
        by_analyst = client.post(
            f"/v1/abuse/{token_id}/lift", json={"reason": "mine"}, headers=analyst
        )
        lifted = client.post(
            f"/v1/abuse/{token_id}/lift", json={"reason": "sweep was a test"}, headers=admin
        )
        again = client.post(f"/v1/abuse/{token_id}/lift", json={"reason": "twice"}, headers=admin)
        freed = client.post("/v1/score", json=records, headers=analyst)
        events = client.get(
            "/v1/audit?action=abuse.lift", headers=bearer(rig.tokens["auditor"])
        ).json()["items"]
    assert by_analyst.status_code == 403
    assert lifted.status_code == 200 and lifted.json()["flagged"]["reasons"]
    assert again.status_code == 404
    assert freed.status_code == 200
    assert [(e["subject"], e["details"]["reason"]) for e in events] == [
        (token_id, "sweep was a test")
    ]
    assert rig.context.throttles.active() == [] and rig.context.throttled == set()


def test_the_default_rate_follows_the_measured_capacity(build_service, tmp_path, monkeypatch):
    rates = {}
    for speed in ("fast", "slow"):
        if speed == "slow":  # every scoring call takes 0.3 s longer
            real = scoring_work.score_request
            monkeypatch.setattr(
                scoring_work,
                "score_request",
                lambda *a, _real=real, **k: time.sleep(0.3) or _real(*a, **k),
            )
        rig = build_service(tmp_path / speed)
        with rig.client() as client:
            rig.activate(client)  # waits for the capacity measurement
            metrics = client.get("/v1/metrics", headers=bearer(rig.tokens["auditor"])).text
        capacity, limiter = rig.context.capacity, rig.context.limiter
        assert capacity.model_id == rig.signed.model_id and capacity.sample_records > 50
        assert limiter.rate_per_s == pytest.approx(CAPACITY_SHARE * capacity.total_per_s)
        assert limiter.burst == max(BURST_SECONDS * limiter.rate_per_s, rig.settings.max_batch)
        gauges = samples(metrics)
        assert gauges[("trustshield_rate_limit_records_per_second", ())] == pytest.approx(
            limiter.rate_per_s
        )
        assert gauges[("trustshield_scoring_capacity_records_per_second", ())] == pytest.approx(
            capacity.total_per_s
        )
        rates[speed] = (limiter.rate_per_s, capacity.sample_records)
    rate, records = rates["slow"]
    assert rate <= CAPACITY_SHARE * records / 0.3  # each timed batch took ≥ 0.3 s


def test_capacity_is_the_median_timed_rate_and_an_explicit_rate_wins():
    clock = iter([0.0, 0.5, 10.0, 10.4, 20.0, 20.7])  # runs of 0.5, 0.4 and 0.7 s
    results = []
    capacity = measure(
        lambda body, most: results.append(most),
        "m1",
        [{"n": 1}] * 200,
        workers=3,
        clock=lambda: next(clock),
    )
    assert capacity == Capacity("m1", 400.0, 3, 200, 0.5)
    assert results == [200] * 4  # a warm-up and three runs
    settings = type("S", (), {"rate_per_s": None, "burst": None, "max_batch": 1000})
    assert rates_for(settings, capacity).rate_per_s == CAPACITY_SHARE * 1200
    assert rates_for(settings, capacity).burst == 1200  # 2 s of 600 records/s
    assert rates_for(settings, None).rate_per_s == FALLBACK_RATE
    settings.rate_per_s = 50.0
    assert rates_for(settings, capacity) == Rates(50.0, 1000.0, "setting")


def test_until_the_capacity_is_measured_the_rate_is_the_fallback(build_service, tmp_path):
    rig = build_service(tmp_path / "svc")
    assert rig.context.capacity is None
    assert (rig.context.limiter.rate_per_s, rig.context.limiter.burst) == (
        FALLBACK_RATE,
        max(BURST_SECONDS * FALLBACK_RATE, rig.settings.max_batch),
    )


def test_the_capacity_sample_is_valid_records_of_the_model(service_client, service_rig):
    model = service_rig.context.model
    records = capacity_sample(model, 100)
    assert len(records) == 100 and len({tuple(sorted(r.items())) for r in records}) > 10
    scored = scoring_work.score_request(
        model, json.dumps({"records": records}).encode(), max_batch=1000
    )
    assert scored.refusal is None and scored.records == 100
