"""Triage through the API and the dashboard: every filter and sort of ``GET /v1/alerts``,
its counts, unknown query parameters refused (422 naming them), review-band records of
``POST /v1/score`` queued once, and the drift windows of ``GET /v1/drift``."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conftest import bearer, sample_records, sign_in
from trustshield.pipeline.detect import entity_column

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
#: (line, minutes after T0 or None, src_ip, src_port, dst_ip, dst_port, suspicion, category)
ROWS = [
    (1, 0, "10.0.0.1", 40000, "192.0.2.7", 22, 0.50, "DoS"),
    (2, 30, "10.0.0.1", 40001, "192.0.2.8", 80, 0.90, "DoS"),
    (3, 90, "10.0.1.5", 22, "10.0.0.1", 443, 0.70, "Probe"),
    (10, 95, "10.0.0.12", 40002, "192.0.2.7", 22, 0.20, "Probe"),
    (100, None, "10.0.0.1", None, None, None, 0.95, "DoS"),
]


def triage_table(model_id: str) -> pa.Table:
    n = len(ROWS)
    entities = pd.DataFrame(
        [
            {
                "ts": None if m is None else (T0 + timedelta(minutes=m)).timestamp(),
                "src_ip": s,
                "src_port": sp,
                "dst_ip": d,
                "dst_port": dp,
            }
            for _, m, s, sp, d, dp, _, _ in ROWS
        ]
    )
    return pa.table(
        {
            "alert_id": [f"triage-{r[0]}" for r in ROWS],
            "run_id": ["triage"] * n,
            "model_id": [model_id] * n,
            "source_sha256": ["t" * 64] * n,
            "line": pa.array([r[0] for r in ROWS], pa.int64()),
            "action": ["alert"] * n,
            "suspicion": pa.array([r[6] for r in ROWS], pa.float64()),
            "category": [r[7] for r in ROWS],
            "technique": ["T1499" if r[7] == "DoS" else "T1046" for r in ROWS],
            "rationale": [f"why {r[0]}" for r in ROWS],
            "created_at": pa.array([T0 + timedelta(days=1)] * n, pa.timestamp("us", tz="UTC")),
            "entities": entity_column(entities, np.arange(n)),
        }
    )


@pytest.fixture(scope="module")
def rig(build_service, tmp_path_factory):
    """A service whose store holds the triage alerts only."""
    rig = build_service(tmp_path_factory.mktemp("triage"))
    with rig.context.write("test-setup") as store:
        store.insert_alerts(triage_table(rig.signed.model_id))
    return rig


def listed(rig, query: str = "", path: str = "/v1/alerts") -> dict:
    response = rig.client().get(f"{path}?{query}", headers=bearer(rig.tokens["viewer"]))
    assert response.status_code == 200, response.text
    return response.json()


def lines(rig, query: str) -> list[int]:
    return [int(a["alert_id"].split("-")[1]) for a in listed(rig, query)["items"]]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("sort=suspicion", [100, 2, 3, 1, 10]),
        ("sort=suspicion&order=asc", [10, 1, 3, 2, 100]),
        ("", [10, 3, 2, 1, 100]),  # latest event first; none last
        ("sort=event_time&order=asc", [1, 2, 3, 10, 100]),
        ("sort=created_at", [1, 2, 3, 10, 100]),  # all stored at once: lines as numbers
        ("since=2024-05-01T12:30:00Z", [10, 3, 2]),
        ("since=2024-05-01T12:00&until=2024-05-01T13:00", [2, 1]),  # without a zone: UTC
        ("until=2024-05-01T12:30:00%2B00:00", [1]),
        ("ip=10.0.0.1&sort=suspicion", [100, 2, 3, 1]),
        ("src_ip=10.0.0.1&since=2024-05-01T12:00Z&until=2024-05-01T13:00Z&sort=suspicion", [2, 1]),
        ("dst_ip=192.0.2.7", [10, 1]),
        ("host=10.0.0.1&sort=event_time&order=asc", [1, 2, 3, 10, 100]),
        ("host=10.0.1.", [3]),
        ("port=22", [10, 3, 1]),
        ("dst_port=22", [10, 1]),
        ("category=Probe&port=443", [3]),
        ("min_suspicion=0.8", [2, 100]),
    ],
)
def test_each_filter_and_sort_of_the_alert_list(rig, query, expected):
    assert lines(rig, query) == expected


def test_the_list_shows_rationale_entities_and_event_time_apart_from_stored_time(rig):
    [first] = listed(rig, "ip=10.0.1.5")["items"]
    assert first["rationale"] == "why 3"
    assert first["entities"] == {
        "ts": (T0 + timedelta(minutes=90)).timestamp(),
        "src_ip": "10.0.1.5",
        "src_port": 22,
        "dst_ip": "10.0.0.1",
        "dst_port": 443,
    }
    assert datetime.fromisoformat(first["event_time"]) == T0 + timedelta(minutes=90)
    assert datetime.fromisoformat(first["created_at"]) == T0 + timedelta(days=1)


def test_counts_by_category_technique_and_hour(rig):
    counts = listed(rig, "", "/v1/alerts/counts")
    assert counts["total"] == 5
    assert counts["category"] == [{"value": "DoS", "count": 3}, {"value": "Probe", "count": 2}]
    assert counts["technique"] == [{"value": "T1499", "count": 3}, {"value": "T1046", "count": 2}]
    hours = [(datetime.fromisoformat(h["value"]), h["count"]) for h in counts["hour"]]
    assert hours == [(T0, 2), (T0 + timedelta(hours=1), 2)]
    narrowed = listed(rig, "src_ip=10.0.0.1", "/v1/alerts/counts")
    assert narrowed["total"] == 3 and narrowed["category"] == [{"value": "DoS", "count": 3}]


@pytest.mark.parametrize(
    "path",
    ["/v1/alerts", "/v1/alerts/counts", "/v1/reviews", "/v1/drift", "/v1/alerts/triage-1"],
)
def test_unknown_query_parameters_are_refused_naming_them(rig, path):
    response = rig.client().get(
        f"{path}?src-ip=10.0.0.1&sortby=x", headers=bearer(rig.tokens["viewer"])
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert "'sortby'" in error["message"] and "'src-ip'" in error["message"]
    assert {d["field"] for d in error["details"]} == {"src-ip", "sortby"}


def test_the_dashboard_refuses_unknown_parameters_in_the_page_and_its_twin(rig):
    client = rig.client()
    assert sign_in(client, rig.tokens["viewer"]).status_code == 303
    page = client.get("/ui/alerts?source_ip=10.0.0.1")
    assert page.status_code == 422 and "&#39;source_ip&#39;" in page.text
    assert "<nav>" in page.text  # in the page layout
    twin = client.get("/ui/alerts?format=json&source_ip=10.0.0.1")
    assert twin.status_code == 422 and "'source_ip'" in twin.json()["error"]["message"]
    assert client.get("/ui/drift?verdict=major").status_code == 422
    assert client.get("/ui/alerts?src_ip=10.0.0.1&sort=suspicion").status_code == 200


@pytest.mark.parametrize(
    "query, field",
    [
        ("sort=alert_id", "sort"),
        ("order=up", "order"),
        ("since=yesterday", "since"),
        ("port=70000", "port"),
    ],
)
def test_bad_filter_values_are_422_naming_the_field(rig, query, field):
    response = rig.client().get(f"/v1/alerts?{query}", headers=bearer(rig.tokens["viewer"]))
    assert response.status_code == 422
    assert field in str(response.json()["error"]["details"])


def test_a_searched_address_must_be_an_address(rig):
    response = rig.client().get("/v1/alerts?ip=10.0.0", headers=bearer(rig.tokens["viewer"]))
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith("ip must be an IPv4 or IPv6 address")
    assert lines(rig, "ip=::ffff:10.0.0.1&sort=suspicion") == [100, 2, 3, 1]  # standard form


def test_the_dashboard_form_takes_the_same_filters(rig):
    client = rig.client()
    sign_in(client, rig.tokens["viewer"])
    twin = client.get(
        "/ui/alerts?format=json&src_ip=10.0.0.1&since=2024-05-01T12:00&until=2024-05-01T13:00"
        "&sort=suspicion"
    ).json()
    assert [a["alert_id"] for a in twin["items"]] == ["triage-2", "triage-1"]
    assert twin["counts"]["total"] == 2
    bad = client.get("/ui/alerts?port=http")
    assert bad.status_code == 422 and "port must be a whole number" in bad.text


def test_score_queues_the_review_band_once_and_audits_the_count(scored):
    client, rig, response = scored
    reviews = [r["alert_id"] for r in response["results"] if r["action"] == "review"]
    queue = client.get("/v1/reviews?limit=500", headers=bearer(rig.tokens["viewer"])).json()
    assert sorted(i["alert_id"] for i in queue["items"]) == sorted(reviews)
    with rig.context.read() as store:
        [event] = store.audit.events("score.batch")
    assert event["details"]["queued_for_review"] == len(reviews)


def test_drift_windows_are_listed_with_verdicts_and_top_features(rig):
    with rig.context.write("test-setup") as store:
        store.db.executemany(
            "INSERT INTO drift_events (event_id, run_id, model_id, window_index, first_line,"
            " last_line, n_records, max_feature_psi, output_psi, alert_rate_change, level,"
            " top_features, result, created_at) VALUES (?, 'r1', 'm1', ?, ?, ?, 500, ?, 0.01,"
            " 0.02, ?, ?, '{}', ?)",
            [
                ["r1-0", 0, 2, 501, 0.05, "none", '[{"name":"n","psi":0.05,"level":"none"}]', T0],
                [
                    "r1-1",
                    1,
                    502,
                    1001,
                    0.4,
                    "major",
                    '[{"name":"p","psi":0.4,"level":"major"}]',
                    T0,
                ],
            ],
        )
    drift = listed(rig, "", "/v1/drift")
    assert [(w["window_index"], w["level"]) for w in drift["items"]] == [(0, "none"), (1, "major")]
    assert drift["items"][1]["top_features"][0]["name"] == "p"
    assert drift["levels"] == {"none": 1, "moderate": 0, "major": 1} and drift["total"] == 2
    assert [w["event_id"] for w in listed(rig, "level=major", "/v1/drift")["items"]] == ["r1-1"]
    client = rig.client()
    sign_in(client, rig.tokens["viewer"], "/ui/drift")
    page = client.get("/ui/drift")
    assert page.status_code == 200 and page.text.count('<span class="badge major">') == 2


@pytest.mark.postgres
def test_the_same_triage_on_postgresql(build_service, tmp_path, fresh_postgres):
    rig = build_service(tmp_path / "pg", store=fresh_postgres)
    with rig.context.write("test-setup") as store:
        store.insert_alerts(triage_table(rig.signed.model_id))
    for query, expected in [
        ("sort=suspicion", [100, 2, 3, 1, 10]),
        ("", [10, 3, 2, 1, 100]),
        ("src_ip=10.0.0.1&since=2024-05-01T12:00Z&until=2024-05-01T13:00Z&sort=suspicion", [2, 1]),
        ("host=10.0.0.1&sort=event_time&order=asc", [1, 2, 3, 10, 100]),
        ("port=22", [10, 3, 1]),
    ]:
        assert lines(rig, query) == expected, query
    hours = listed(rig, "", "/v1/alerts/counts")["hour"]
    assert [(datetime.fromisoformat(h["value"]), h["count"]) for h in hours] == [
        (T0, 2),
        (T0 + timedelta(hours=1), 2),
    ]
    rig.context.close()


def test_a_scored_records_own_time_is_its_alerts_event_time(service_client, service_rig):
    records = sample_records(service_rig.signed.frame)
    when = (T0 + timedelta(minutes=7)).timestamp()
    response = service_rig.score(service_client, [{**r, "ts": when} for r in records])
    flagged = [r["alert_id"] for r in response["results"] if r.get("alert_id")]
    assert flagged
    items = listed(service_rig, "limit=500")["items"]
    assert {a["alert_id"] for a in items} == set(flagged)
    assert {datetime.fromisoformat(a["event_time"]) for a in items} == {T0 + timedelta(minutes=7)}
    assert all(a["entities"]["ts"] == when for a in items)
    bad = service_client.post(
        "/v1/score",
        json={"records": [{**records[0], "ts": "yesterday"}]},
        headers=bearer(service_rig.tokens["analyst"]),
    )
    assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "ts"
