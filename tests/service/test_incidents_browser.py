"""Incidents in a real browser: an analyst goes from the incidents list to one incident
(timeline and beacon histogram drawn) to its evidence flows, and confirms it.

Reuses the live uvicorn service and the Chromium fixtures of test_dashboard_browser; the
store holds two hand-built incidents (tests/incident_samples.py). Any console or page
error (a Content-Security-Policy violation among them) fails the test.
"""

from __future__ import annotations

import pytest

from incident_samples import sample
from test_dashboard_browser import browser, live, shot, sign_in, tab  # noqa: F401

pytestmark = pytest.mark.browser


def test_from_the_list_to_an_incident_to_its_evidence_flows(live, tab):  # noqa: F811
    base, rig, _ = live
    a = sample(host="10.0.0.21")
    b = sample(host="10.0.0.22", start=a[0].first_seen + 7200, severity="high")
    with rig.context.write("test-setup") as store:
        low_id, high_id = store.incidents.add("behaviour-model", "conn.log", [a[:2], b[:2]])

    sign_in(tab, base, rig.tokens["analyst"], "/ui/incidents")
    rows = tab.locator("table.incidents tbody tr.incident")
    assert rows.count() == 2
    assert rows.first.locator(".badge").first.text_content() == "high"
    shot(tab, "incidents")

    tab.click(f'a[href="/ui/incidents/{low_id}"]')
    assert tab.url == f"{base}/ui/incidents/{low_id}"
    assert tab.locator("svg.timeline-chart g.bucket.evidence").count() >= 1
    assert tab.locator("div.histogram svg.column-chart").count() == 1
    assert "one every 30.0 s" in tab.locator("li.behaviour").first.text_content()
    shot(tab, "incident")

    tab.click("a.evidence-flows")
    assert tab.url == f"{base}/ui/incidents/{low_id}/flows"
    uids = tab.locator("td.uid").all_text_contents()
    assert sorted(uids) == sorted(a[0].evidence_uids)
    shot(tab, "incident-flows")

    tab.click(f'h1 a[href="/ui/incidents/{low_id}"]')
    tab.fill("#comment", "C&C beacon to 6667")
    tab.click("button[value=confirmed]")
    assert tab.url == f"{base}/ui/incidents/{low_id}?notice=confirmed"
    assert "C&C beacon to 6667" in tab.locator(".review-comment").text_content()
    with rig.context.read() as store:
        (event,) = store.audit.events("incident.review", subject=low_id)
    assert event["details"]["outcome"] == "confirmed"
    assert tab.problems == [], tab.problems
