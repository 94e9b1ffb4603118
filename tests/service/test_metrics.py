"""/v1/metrics through prometheus_client: conventional names, a latency histogram, counters
per method, route template and status, one registry per app, the token check kept."""

from __future__ import annotations

import prometheus_client
from conftest import bearer, sample_records
from metric_samples import samples, total
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from trustshield.service.metrics import ServiceMetrics

REQUESTS = "trustshield_http_requests_total"
DURATION = "trustshield_http_request_duration_seconds"


def test_requests_are_counted_by_route_template_and_timed(service_rig):
    auditor = bearer(service_rig.tokens["auditor"])
    viewer = bearer(service_rig.tokens["viewer"])
    with service_rig.client() as client:
        for _ in range(3):
            assert client.get("/v1/health").status_code == 200
        missing = [client.get(f"/v1/alerts/no-such-{i}", headers=viewer) for i in range(2)]
        assert client.get("/v1/metrics").status_code == 401  # the token check is kept
        assert client.get("/v1/metrics", headers=viewer).status_code == 403
        answer = client.get("/v1/metrics", headers=auditor)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = answer.text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert families["trustshield_http_requests"].type == "counter"
    assert families[DURATION].type == "histogram"
    assert total(text, REQUESTS, method="GET", route="/v1/health", status="200") == 3
    assert [m.status_code for m in missing] == [404, 404]
    # two paths, one route template: the label set does not grow with the ids asked for
    assert total(text, REQUESTS, route="/v1/alerts/{alert_id}", status="404") == 2
    assert not any("no-such" in str(pairs) for _, pairs in samples(text))
    assert total(text, REQUESTS, route="/v1/metrics", status="401") == 1
    assert total(text, REQUESTS, route="/v1/metrics", status="403") == 1
    health = dict(route="/v1/health", method="GET")
    assert total(text, DURATION + "_count", **health) == 3
    buckets = sorted(
        (float(dict(pairs)["le"]), value)
        for (name, pairs), value in samples(text).items()
        if name == DURATION + "_bucket" and dict(pairs)["route"] == "/v1/health"
    )
    counts = [value for _, value in buckets]
    assert counts == sorted(counts) and buckets[-1] == (float("inf"), 3)
    assert 0 < total(text, DURATION + "_sum", **health) < 30


def test_scoring_counters_and_openmetrics(service_rig):
    records = sample_records(service_rig.signed.frame)
    with service_rig.client() as client:
        service_rig.activate(client)
        scored = service_rig.score(client, records)
        answer = client.get(
            "/v1/metrics",
            headers={
                **bearer(service_rig.tokens["admin"]),
                "Accept": "application/openmetrics-text; version=1.0.0",
            },
        )
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(answer.text)}
    value = {s.name: s.value for f in families.values() for s in f.samples if not s.labels}
    assert value["trustshield_records_scored_total"] == len(records)
    flagged = sum(r["action"] != "allow" for r in scored["results"])
    assert value["trustshield_alerts_total"] == flagged
    assert value["trustshield_score_duration_seconds_count"] == 1
    assert value["trustshield_rate_limit_records_per_second"] > 0
    assert value["trustshield_scoring_capacity_records_per_second"] > 0


def test_each_app_has_its_own_registry():
    one, two = ServiceMetrics(), ServiceMetrics()  # the global registry would refuse this
    one.observe_response("GET", "/v1/health", 200, 0.01)
    one.observe_response("GET", None, 404, 0.01)
    text_one = one.render(None)[0].decode()
    text_two = two.render(None)[0].decode()
    assert total(text_one, REQUESTS, route="/v1/health") == 1
    assert total(text_one, REQUESTS, route="unmatched", status="404") == 1
    assert total(text_two, REQUESTS) == 0
    default = prometheus_client.generate_latest(prometheus_client.REGISTRY).decode()
    assert "trustshield_" not in default
