"""Incident pages of the dashboard: the list by severity and time, an incident with its
timeline and beacon histogram as SVG, its evidence flows, the JSON twins, the audited
review form with its CSRF check, and roles."""

from __future__ import annotations

import re

import pytest

from conftest import bearer, csrf_of, sign_in
from incident_samples import sample

MODEL = "beh0123456789abc"


@pytest.fixture(scope="module")
def rig(build_service, tmp_path_factory):
    rig = build_service(tmp_path_factory.mktemp("incident-pages"))
    a = sample()
    b = sample(host="10.0.0.7", start=a[0].first_seen + 7200, severity="high")
    with rig.context.write("test-setup") as store:
        rig.ids = store.incidents.add(MODEL, "conn.log", [a[:2], b[:2]])
    return rig


def signed_in(rig, role: str):
    client = rig.client()
    assert sign_in(client, rig.tokens[role], "/ui/incidents").status_code == 303
    return client


def test_the_list_shows_the_most_severe_first_and_links_each_incident(rig):
    page = signed_in(rig, "viewer").get("/ui/incidents")
    assert page.status_code == 200
    links = re.findall(r'href="/ui/incidents/([0-9a-f]+)"', page.text)
    assert links == [rig.ids[1], rig.ids[0]]  # high before medium
    assert 'href="/ui/incidents"' in page.text  # in the navigation
    only = signed_in(rig, "viewer").get("/ui/incidents?severity=medium")
    assert re.findall(r'href="/ui/incidents/([0-9a-f]+)"', only.text) == [rig.ids[0]]
    assert signed_in(rig, "viewer").get("/ui/incidents?sevrity=high").status_code == 422


def test_an_incident_page_draws_the_timeline_and_the_beacon_histogram(rig):
    client = signed_in(rig, "viewer")
    page = client.get(f"/ui/incidents/{rig.ids[0]}")
    assert page.status_code == 200
    html = page.text
    assert html.count('class="chart timeline-chart"') == 1
    assert 'class="bucket evidence"' in html
    assert "Intervals between connections of 203.0.113.9:6667/tcp" in html
    assert "one every 30.0 s" in html
    assert "10.0.0.5" in html and "T1571" in html
    assert f'href="/ui/incidents/{rig.ids[0]}/flows"' in html
    assert f'action="/ui/incidents/{rig.ids[0]}/review"' not in html  # a viewer: no form
    twin = client.get(f"/ui/incidents/{rig.ids[0]}?format=json").json()
    assert (
        twin
        == client.get(f"/v1/incidents/{rig.ids[0]}", headers=bearer(rig.tokens["viewer"])).json()
    )
    flows = client.get(f"/ui/incidents/{rig.ids[0]}/flows")
    assert flows.status_code == 200
    assert len(re.findall(r'<tr class="flow">', flows.text)) == 40
    assert set(re.findall(r'class="mono uid">([^<]+)<', flows.text)) == set(twin["evidence_uids"])
    assert client.get("/ui/incidents/nope").status_code == 404


def test_an_analyst_reviews_through_the_form_with_its_csrf_token(rig):
    client = signed_in(rig, "analyst")
    path = f"/ui/incidents/{rig.ids[1]}"
    page = client.get(path)
    form = {"csrf": csrf_of(page.text), "outcome": "dismissed", "comment": "lab scanner"}
    refused = client.post(f"{path}/review", data={**form, "csrf": "x"}, follow_redirects=False)
    assert refused.status_code == 403
    done = client.post(f"{path}/review", data=form, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].endswith("notice=dismissed")
    shown = client.get(done.headers["location"]).text
    assert "Review recorded: dismissed." in shown and "lab scanner" in shown
    with rig.context.read() as store:
        events = store.audit.events("incident.review", subject=rig.ids[1])
    assert [e["details"]["outcome"] for e in events] == ["dismissed"]
    viewer = signed_in(rig, "viewer")
    csrf = csrf_of(viewer.get("/ui/alerts").text)
    forbidden = viewer.post(f"{path}/review", data={**form, "csrf": csrf}, follow_redirects=False)
    assert forbidden.status_code == 403
