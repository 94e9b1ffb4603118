"""Triage in a real browser on a store of 100,000 alerts.

The figure: from the alerts page, an analyst finds all alerts from one source IP in a time
range, sorted by suspicion, in at most 3 interactions (click the address, click an hour of
the chart, click the Suspicion heading), and each page loads in at most 300 ms (the
browser's Navigation Timing: from the start of the navigation to the end of its load
event; the unfiltered list: the median of 3 loads, then each page of the flow once). Then each triage feature on the same store: the filter
form (address prefix, port, time range, sort order), rationale, entities and event time
apart from stored time in the list, the counts, the 422 for an unknown parameter, the
review band in the review queue, and the drift page.

The store is filled through its own batch API (:meth:`AlertStore.insert_alerts`, 25,000
alerts a batch) with alerts over 48 hours from 499 source addresses (a twentieth of them
in the review band). The service runs under uvicorn in a background thread; Playwright
drives the system Chromium. The measured load times are written to
``tests-output/triage-timing.json`` at the repository root (git-ignored).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from conftest import bearer
from live_browser import CHROMIUM, new_tab, serving
from test_dashboard_browser import browser, shot, sign_in  # noqa: F401
from trustshield.pipeline.detect import entity_column

pytestmark = pytest.mark.browser

ALERTS = 100_000
BATCH = 25_000
HOURS = 48
T0 = datetime(2024, 5, 1, tzinfo=timezone.utc)
MAX_INTERACTIONS = 3
MAX_LOAD_MS = 300.0
TIMING = Path(__file__).resolve().parents[2] / "tests-output" / "triage-timing.json"
CATEGORIES = {"DoS": "T1499", "Probe": "T1046", "R2L": "T1110"}


def alert_batch(start: int, k: int, model_id: str, rng) -> pa.Table:
    """``k`` alerts (lines ``start``…) with entities, event times over :data:`HOURS` hours."""
    src, dst = rng.integers(1, 500, k), rng.integers(1, 50, k)
    entities = pd.DataFrame(
        {
            "ts": T0.timestamp() + rng.uniform(0, HOURS * 3600, k),
            "src_ip": [f"10.1.{a // 250}.{a % 250}" for a in src],
            "src_port": rng.integers(1024, 65535, k).astype("int32"),
            "dst_ip": [f"192.0.2.{b}" for b in dst],
            "dst_port": rng.choice([22, 80, 443, 3389], k).astype("int32"),
            "proto": "tcp",
        }
    )
    categories = rng.choice(list(CATEGORIES), k)
    return pa.table(
        {
            "alert_id": [f"fill-{x}" for x in range(start, start + k)],
            "run_id": ["fill"] * k,
            "model_id": [model_id] * k,
            "source_sha256": ["f" * 64] * k,
            "line": pa.array(np.arange(start, start + k), pa.int64()),
            "action": np.where(rng.random(k) < 0.05, "review", "alert"),
            "suspicion": rng.random(k),
            "category": categories,
            "technique": [CATEGORIES[c] for c in categories],
            "rationale": [f"{c}: many connections to one service" for c in categories],
            "created_at": pa.array([datetime.now(timezone.utc)] * k, pa.timestamp("us", tz="UTC")),
            "entities": entity_column(entities, np.arange(k)),
        }
    )


@pytest.fixture(scope="module")
def live(build_service, tmp_path_factory):
    """(base URL, rig) of a service under uvicorn whose store holds :data:`ALERTS` alerts."""
    pytest.importorskip("uvicorn")  # before filling the store
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    rig = build_service(tmp_path_factory.mktemp("triage-browser"))
    rng = np.random.default_rng(18)
    with rig.context.write("test-setup") as store:
        for start in range(0, ALERTS, BATCH):
            store.insert_alerts(alert_batch(start, min(BATCH, ALERTS - start), "m" * 16, rng))
        store.db.executemany(
            "INSERT INTO drift_events (event_id, run_id, model_id, window_index, first_line,"
            " last_line, n_records, max_feature_psi, output_psi, alert_rate_change, level,"
            " top_features, result, created_at) VALUES (?, 'fill', ?, ?, ?, ?, 5000, ?, 0.02,"
            " 0.01, ?, ?, '{}', ?)",
            [
                [f"fill-{i}", "m" * 16, i, 5000 * i + 1, 5000 * (i + 1), psi, level, top, T0]
                for i, (psi, level, top) in enumerate(
                    [
                        (0.04, "none", '[{"name":"src_bytes","psi":0.04,"level":"none"}]'),
                        (0.31, "major", '[{"name":"dst_port","psi":0.31,"level":"major"}]'),
                    ]
                )
            ],
        )
    with serving(rig.app) as base:
        yield base, rig


@pytest.fixture
def tab(browser):  # noqa: F811
    with new_tab(browser) as page:
        page.server_ms = []
        yield page


def load_ms(page) -> float:
    """The current page's load in ms: navigation start to the end of its load event (the
    server's part, request sent to first byte, is kept in ``page.server_ms``)."""
    page.wait_for_load_state("load")
    total, server = page.evaluate(
        "() => { const n = performance.getEntriesByType('navigation')[0];"
        " return [n.loadEventEnd - n.startTime, n.responseStart - n.requestStart]; }"
    )
    page.server_ms.append(round(server, 1))
    return round(total, 1)


def api(base: str, rig, path: str, **params) -> dict:
    response = httpx.get(base + path, params=params, headers=bearer(rig.tokens["viewer"]))
    assert response.status_code == 200, response.text
    return response.json()


def test_an_analyst_finds_one_sources_alerts_in_an_hour_by_suspicion_in_3_clicks(live, tab):
    base, rig = live
    sign_in(tab, base, rig.tokens["analyst"], "/ui/alerts")
    first = []
    for _ in range(3):  # the page itself, without the sign-in before it: the median of 3
        tab.goto(base + "/ui/alerts")
        first.append(load_ms(tab))
    loads = {"alerts": sorted(first)[1]}
    tab.server_ms[:] = [sorted(tab.server_ms)[1]]
    assert tab.locator(".pager .shown").text_content().endswith(f"of {ALERTS}")
    assert tab.locator("svg.column-chart a.bucket").count() == HOURS
    interactions = 0

    # 1: the source address of the first alert listed
    pivot = tab.locator('table.alerts tbody tr a.pivot[data-field="src_ip"]').first
    source = pivot.text_content()
    pivot.click()
    interactions += 1
    loads["source"] = load_ms(tab)
    # 2: the busiest hour of that source, in the chart
    hours = api(base, rig, "/v1/alerts/counts", src_ip=source)["hour"]
    busiest = max(hours, key=lambda h: h["count"])
    start = datetime.fromisoformat(busiest["value"])
    label = start.strftime("%m-%d %H:%M")
    tab.locator(f'svg.column-chart a.bucket[data-label="{label}"]').click()
    interactions += 1
    loads["hour"] = load_ms(tab)
    # 3: sorted by suspicion, highest first
    tab.locator('th a.sort[data-sort="suspicion"]').click()
    interactions += 1
    loads["sorted"] = load_ms(tab)

    expected = api(
        base,
        rig,
        "/v1/alerts",
        src_ip=source,
        since=start.isoformat(),
        until=(start + timedelta(hours=1)).isoformat(),
        sort="suspicion",
        limit=500,
    )
    assert expected["total"] == busiest["count"] <= 25  # all of them on one page
    rows = tab.locator("table.alerts tbody tr")
    shown = [rows.nth(i).locator("td").first.text_content() for i in range(rows.count())]
    assert shown == [a["alert_id"] for a in expected["items"]]
    suspicion = [
        float(rows.nth(i).locator("td.num").first.text_content()) for i in range(rows.count())
    ]
    assert suspicion == sorted(suspicion, reverse=True)
    for i in range(rows.count()):
        event = rows.nth(i).locator("td.event-time").text_content()
        moment = datetime.fromisoformat(event + "+00:00")
        assert start <= moment < start + timedelta(hours=1)
        assert source in rows.nth(i).locator("td.entities").text_content()
    assert tab.locator(".pager .shown").text_content().endswith(f"of {busiest['count']}")
    assert interactions <= MAX_INTERACTIONS
    shot(tab, "alerts-triaged")

    TIMING.parent.mkdir(parents=True, exist_ok=True)
    TIMING.write_text(
        json.dumps(
            {
                "alerts": ALERTS,
                "interactions": interactions,
                "load_ms": loads,
                "server_ms": dict(zip(loads, tab.server_ms)),
            },
            indent=1,
        )
    )
    assert max(loads.values()) <= MAX_LOAD_MS, loads
    assert tab.problems == []


def test_each_triage_feature_in_the_browser(live, tab):
    base, rig = live
    sign_in(tab, base, rig.tokens["analyst"], "/ui/alerts")
    first = tab.locator("table.alerts tbody tr").first
    # rationale, entities, event time apart from stored time
    assert "many connections to one service" in first.locator("td.rationale").text_content()
    assert "→" in first.locator("td.entities").text_content()
    cells = first.locator("td.nowrap")
    assert cells.nth(0).text_content().startswith("2024-05-")  # the record's own time
    assert not cells.nth(1).text_content().startswith("2024-05-")  # when it was stored
    # counts by category and technique
    assert tab.locator(".facet.category tr").count() == len(CATEGORIES)
    assert tab.locator(".facet.technique tr").count() == len(CATEGORIES)
    shot(tab, "alerts-100k")

    # the form: address prefix, port, time range, oldest first
    tab.fill("input[name=host]", "10.1.1.")
    tab.fill("input[name=port]", "3389")
    tab.fill("input[name=since]", "2024-05-02T00:00:00")
    tab.fill("input[name=until]", "2024-05-02T06:00:00")
    tab.select_option("select[name=sort]", "event_time")
    tab.select_option("select[name=order]", "asc")
    tab.click("form.filters button[type=submit]")
    expected = api(
        base,
        rig,
        "/v1/alerts",
        host="10.1.1.",
        port=3389,
        since="2024-05-02T00:00:00Z",
        until="2024-05-02T06:00:00Z",
        sort="event_time",
        order="asc",
        limit=25,
    )
    assert expected["total"] > 25
    rows = tab.locator("table.alerts tbody tr")
    assert [rows.nth(i).locator("td").first.text_content() for i in range(rows.count())] == [
        a["alert_id"] for a in expected["items"]
    ]
    assert tab.locator(".pager .shown").text_content().endswith(f"of {expected['total']}")
    times = [rows.nth(i).locator("td.event-time").text_content() for i in range(rows.count())]
    assert times == sorted(times) and times[0] >= "2024-05-02 00:00"
    # a category of the counts narrows the list
    tab.locator(".facet.category a").first.click()
    assert "category=" in tab.url and "host=10.1.1." in tab.url

    # an unknown parameter is refused, naming it
    response = tab.goto(base + "/ui/alerts?source=10.1.0.1")
    assert response.status == 422
    assert "'source'" in tab.locator("main").text_content()

    # the review band is in the review queue
    tab.goto(base + "/ui/reviews")
    queued = api(base, rig, "/v1/reviews", limit=25)["items"]
    assert queued and tab.locator("table.reviews tbody tr").count() == len(queued)

    # the drift page: windows, verdicts, top features
    tab.goto(base + "/ui/drift")
    assert tab.locator("table.drift tbody tr").count() == 2
    major = tab.locator("table.drift tbody tr", has_text="major")
    assert "dst_port" in major.locator("td.top-features").text_content()
    shot(tab, "drift")
    assert tab.problems == [] or all("422" in p for p in tab.problems), tab.problems
