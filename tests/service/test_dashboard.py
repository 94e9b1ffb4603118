"""The dashboard over HTTP: sign-in and its cookie, role gates, JSON twins equal to the API,
filters and paging, the attribution chart, reviews through the page (audited), CSRF refusals
and escaping."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import pytest

from conftest import bearer, csrf_of, sample_records, sign_in
from trustshield.service import dashboard, pages
from trustshield.service.access import COOKIE
from trustshield.pipeline.report_sections import ATTRIBUTION_UNIT
from trustshield.report import render_html, svg
from trustshield.service.signin import LOGIN_COOKIE, SIGN_IN_FAILED
from trustshield.service.pages import CSRF_REFUSED, FORM_TOO_LARGE, MAX_FORM_BYTES, NEEDS_ROLE


@pytest.fixture(scope="module")
def shared(build_service, tmp_path_factory):
    """A read-only service for this module: (rig, score response). Tests that change
    anything use the function-scoped ``scored`` fixture instead."""
    rig = build_service(tmp_path_factory.mktemp("dashboard"))
    client = rig.client()  # not entered: the context stays open for the whole module
    rig.activate(client)
    response = rig.score(client, sample_records(rig.signed.frame))
    yield rig, response
    rig.context.close()


def flagged(response: dict) -> list[dict]:
    return [r for r in response["results"] if r.get("alert_id")]


def signed_in(rig, role: str, **kwargs):
    client = rig.client(**kwargs)
    assert sign_in(client, rig.tokens[role]).status_code == 303
    return client


def api(client, rig, path: str, role: str = "viewer"):
    response = client.get(path, headers=bearer(rig.tokens[role]))
    assert response.status_code == 200, response.text
    return response.json()


# --- signing in ------------------------------------------------------------------------------


def test_an_anonymous_page_request_is_sent_to_sign_in_and_its_json_twin_gets_401(shared):
    rig, _ = shared
    client = rig.client()
    page = client.get("/ui/alerts?action=alert", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/ui/login?next=%2Fui%2Falerts%3Faction%3Dalert"
    twin = client.get("/ui/alerts?format=json")
    assert twin.status_code == 401 and twin.json()["error"]["code"] == "unauthenticated"


def test_signing_in_sets_an_httponly_strict_cookie_and_returns_to_the_page(shared):
    rig, _ = shared
    client = rig.client()
    response = sign_in(client, rig.tokens["analyst"], "/ui/reviews")
    assert response.status_code == 303 and response.headers["location"] == "/ui/reviews"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE + "="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path"} <= attributes and "secure" not in attributes
    assert "samesite=strict" in cookie.lower() and "path=/ui;" in cookie.lower() + ";"
    assert client.get("/ui/reviews").status_code == 200  # the cookie alone now suffices


def test_the_cookie_is_secure_over_https(shared):
    rig, _ = shared
    response = sign_in(rig.client(base_url="https://testserver"), rig.tokens["viewer"])
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(COOKIE + "="))
    assert "secure" in [part.strip().lower() for part in cookie.split(";")]


def test_a_wrong_token_is_refused_without_a_cookie(shared):
    rig, _ = shared
    client = rig.client()
    response = sign_in(client, rig.tokens["viewer"][:-2] + "xx")
    assert response.status_code == 401 and SIGN_IN_FAILED in response.text
    assert COOKIE not in client.cookies


def test_sign_in_without_the_forms_csrf_token_is_refused(shared):
    rig, _ = shared
    client, other = rig.client(), rig.client()
    form = client.get("/ui/login")
    assert "httponly" in form.headers["set-cookie"].lower() and LOGIN_COOKIE in client.cookies
    csrf = csrf_of(other.get("/ui/login").text)  # bound to the other browser's nonce
    for data in ({"token": rig.tokens["viewer"]}, {"token": rig.tokens["viewer"], "csrf": csrf}):
        response = client.post("/ui/login", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert CSRF_REFUSED.replace("'", "&#39;") in response.text
    assert COOKIE not in client.cookies


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/ui/", "/v1/audit"])
def test_sign_in_only_returns_to_dashboard_pages(shared, target):
    rig, _ = shared
    response = sign_in(rig.client(), rig.tokens["viewer"], target)
    assert response.headers["location"] == "/ui/alerts"


def test_signing_out_clears_the_cookie_and_needs_the_csrf_token(shared):
    rig, _ = shared
    client = signed_in(rig, "viewer")
    refused = client.post("/ui/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403 and COOKIE in client.cookies
    token = csrf_of(client.get("/ui/logout").text)
    response = client.post("/ui/logout", data={"csrf": token}, follow_redirects=False)
    assert response.headers["location"] == "/ui/login?notice=signed-out"
    assert COOKIE not in client.cookies
    assert client.get("/ui/alerts", follow_redirects=False).status_code == 303


# --- roles ---------------------------------------------------------------------------------


def test_a_role_without_access_gets_403_in_the_page_layout(shared):
    rig, _ = shared
    client = signed_in(rig, "viewer")
    page = client.get("/ui/audit")
    assert page.status_code == 403
    assert NEEDS_ROLE.format(needed="admin, auditor", held="viewer") in page.text
    assert 'href="/ui/alerts"' in page.text and 'href="/ui/audit"' not in page.text  # nav
    twin = client.get("/ui/audit?format=json")
    assert twin.status_code == 403
    assert twin.json() == rig.client().get("/v1/audit", headers=bearer(rig.tokens["viewer"])).json()


def test_the_navigation_lists_only_pages_the_role_may_open(shared):
    rig, _ = shared

    def nav(html):
        return re.findall(r"<nav>(.*?)</nav>", html, re.S)[0]

    assert 'href="/ui/audit"' in nav(signed_in(rig, "auditor").get("/ui/alerts").text)
    assert 'href="/ui/audit"' not in nav(signed_in(rig, "analyst").get("/ui/alerts").text)


# --- JSON twins ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "page, endpoint",
    [
        ("/ui/alerts", f"/v1/alerts?limit={dashboard.PAGE_SIZE}"),
        (
            "/ui/alerts?action=alert&category=DoS",
            f"/v1/alerts?limit={dashboard.PAGE_SIZE}&action=alert&category=DoS",
        ),
        ("/ui/reviews", f"/v1/reviews?limit={dashboard.PAGE_SIZE}"),
        (
            "/ui/reviews?status=dismissed",
            f"/v1/reviews?status=dismissed&limit={dashboard.PAGE_SIZE}",
        ),
        (
            "/ui/alerts?src_ip=10.0.0.4&sort=suspicion&order=asc",
            f"/v1/alerts?limit={dashboard.PAGE_SIZE}&src_ip=10.0.0.4&sort=suspicion&order=asc",
        ),
        ("/ui/models", "/v1/models"),
        ("/ui/practices", "/v1/practices"),
        ("/ui/drift", "/v1/drift"),
    ],
)
def test_each_json_twin_is_what_the_api_returns(shared, page, endpoint):
    """The alert list's twin also holds what GET /v1/alerts/counts answers."""
    rig, _ = shared
    client = rig.client()
    twin = api(client, rig, page + ("&" if "?" in page else "?") + "format=json")
    if page.startswith("/ui/alerts"):
        filters = [p for p in urlsplit(endpoint).query.split("&") if not p.startswith("limit=")]
        assert twin.pop("counts") == api(client, rig, "/v1/alerts/counts?" + "&".join(filters))
    assert twin == api(client, rig, endpoint)


def test_each_page_names_its_api_and_links_its_json_twin(shared):
    rig, response = shared
    client = signed_in(rig, "auditor")
    alert_id = flagged(response)[0]["alert_id"]
    for path, named in [
        ("/ui/alerts?action=alert", "GET /v1/alerts"),
        (f"/ui/alerts/{alert_id}", f"GET /v1/alerts/{alert_id}"),
        ("/ui/reviews", "GET /v1/reviews"),
        ("/ui/models", "GET /v1/models"),
        ("/ui/practices", "GET /v1/practices"),
        ("/ui/audit", "GET /v1/audit"),
    ]:
        html = client.get(path).text
        assert f"<code>{named}" in html, path
        link = re.search(r'<a href="([^"]+)" class="json-twin">', html).group(1)
        assert link.replace("&amp;", "&") == path + ("&" if "?" in path else "?") + "format=json"
        assert "<script" not in html  # the Content-Security-Policy allows no scripts


def test_the_alert_twin_adds_the_technique_name_from_the_models_spec(shared):
    rig, response = shared
    client = rig.client()
    alert = next(r for r in flagged(response) if r["category"] == "DoS")
    twin = api(client, rig, f"/ui/alerts/{alert['alert_id']}?format=json")
    detail = api(client, rig, f"/v1/alerts/{alert['alert_id']}")
    assert twin.pop("technique_name") == rig.context.model.spec.technique_names[alert["technique"]]
    assert twin == detail


# --- the alert list ------------------------------------------------------------------------


def test_filters_show_only_matching_alerts_and_keep_their_values(shared):
    rig, response = shared
    client = signed_in(rig, "viewer")
    html = client.get("/ui/alerts?category=DoS&action=alert").text
    shown = set(re.findall(r'<a href="/ui/alerts/([^"]+)" class="mono">', html))
    assert shown == {r["alert_id"] for r in flagged(response) if r["category"] == "DoS"}
    assert 'name="category" value="DoS"' in html
    assert '<option value="alert" selected>' in html


def test_a_filter_the_api_would_refuse_shows_422(shared):
    rig, _ = shared
    client = signed_in(rig, "viewer")
    page = client.get("/ui/alerts?min_suspicion=lots")
    assert page.status_code == 422
    assert "min suspicion must be a number; got &#39;lots&#39;" in page.text


def test_paging_walks_the_whole_list_keeping_the_filters(shared, monkeypatch):
    rig, response = shared
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 4)
    client = signed_in(rig, "viewer")
    seen, path = [], "/ui/alerts?action=alert"
    while path:
        html = client.get(path).text
        seen += re.findall(r'<a href="/ui/alerts/([^"]+)" class="mono">', html)
        following = re.search(r'<a href="([^"]+)" rel="next">', html)
        path = following.group(1).replace("&amp;", "&") if following else None
        assert path is None or "action=alert" in path
    expected = [r["alert_id"] for r in flagged(response) if r["action"] == "alert"]
    assert sorted(seen) == sorted(expected) and len(seen) == len(expected) > 4


# --- the alert page ------------------------------------------------------------------------


def test_the_alert_page_draws_one_bar_per_feature_largest_first(shared):
    rig, response = shared
    client = signed_in(rig, "viewer")
    alert = max(flagged(response), key=lambda r: r["suspicion"])
    detail = api(client, rig, f"/v1/alerts/{alert['alert_id']}")
    html = client.get(f"/ui/alerts/{alert['alert_id']}").text
    ranked = sorted(detail["attributions"], key=lambda a: -abs(a["contribution"]))
    assert len(ranked) <= svg.TOP_FEATURES  # the tiny model: every feature has its own bar
    labels = re.findall(r'<text class="label"[^>]*>([^<]*)<title>', html)
    assert labels == [svg.attribution_label(a["feature"], a["value"]) for a in ranked]
    bars = re.findall(r'<rect class="(\w+)" x="[^"]+" y="[^"]+" width="([^"]+)"', html)
    signs = [
        "positive" if a["contribution"] > 0 else "negative" if a["contribution"] < 0 else "zero"
        for a in ranked
    ]
    assert [sign for sign, _ in bars] == signs
    widths = [float(w) for _, w in bars]
    assert widths == sorted(widths, reverse=True)  # lengths follow |contribution|, largest first
    assert rig.context.model.spec.technique_names[alert["technique"]] in html


def test_the_alert_page_and_the_report_draw_the_same_attribution_chart(shared):
    """One chart component: the dashboard's alert page and the trust report's example
    alert give the same SVG for the same attributions."""
    rig, response = shared
    client = signed_in(rig, "viewer")
    alert = max(flagged(response), key=lambda r: r["suspicion"])
    detail = api(client, rig, f"/v1/alerts/{alert['alert_id']}")
    page = client.get(f"/ui/alerts/{alert['alert_id']}").text
    report = render_html(
        {
            "model": {"model_id": "m"},
            "datasets": [],
            "protocol": "p",
            "metrics": {},
            "attribution_unit": ATTRIBUTION_UNIT,
            "example_alerts": [
                {
                    "alert_id": detail["alert_id"],
                    "base": detail["base"],
                    "contributions": detail["attributions"],
                }
            ],
        }
    )
    charts = [
        re.findall(r'<svg class="chart attribution".*?</svg>', html, re.S)
        for html in (page, report)
    ]
    assert len(charts[0]) == len(charts[1]) == 1
    assert charts[0] == charts[1]
    assert f"Why alert {detail['alert_id']} was raised" in charts[0][0]


def test_everything_shown_is_escaped(build_service, tmp_path):
    rig = build_service(tmp_path / "escape")
    with rig.client() as client:
        rig.activate(client)
        records = sample_records(rig.signed.frame)
        for record in records:
            record["user"] = "<script>alert(1)</script>"
        alert_id = flagged(rig.score(client, records))[0]["alert_id"]
        assert sign_in(client, rig.tokens["viewer"]).status_code == 303
        for path in ("/ui/alerts", f"/ui/alerts/{alert_id}"):
            html = client.get(path).text
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html


def test_attribution_chart_keeps_the_top_bars_and_sums_the_rest_as_others():
    contributions = [3.0, -5.0, 0.5, 0.0] + [0.1 * k for k in range(1, 17)]
    chart = svg.attribution_chart(
        0.0,
        [
            {"feature": f"f{k}", "value": str(k), "contribution": c}
            for k, c in enumerate(contributions)
        ],
        title="t",
    )
    ranked = sorted(contributions, key=abs, reverse=True)
    top = svg.TOP_FEATURES
    values = re.findall(r'<text class="value"[^>]*>([^<]*)</text>', chart)
    assert len(values) == top + 1
    assert [float(v.replace("\u2212", "-")) for v in values[:top]] == pytest.approx(
        ranked[:top], rel=1e-2
    )
    labels = re.findall(r'<text class="label"[^>]*>([^<]*)<title>', chart)
    assert labels[0] == "f1 = 1" and labels[-1] == f"other {len(ranked) - top} features (combined)"
    assert float(values[-1].replace("\u2212", "-")) == pytest.approx(sum(ranked[top:]), rel=1e-2)
    widths = [
        float(w)
        for w in re.findall(r'<rect class="\w+" x="[^"]+" y="[^"]+" width="([^"]+)"', chart)
    ]
    assert widths[1] == pytest.approx(widths[0] * 3 / 5, abs=0.02)  # |3| against the largest |-5|


# --- reviewing through the page ------------------------------------------------------------


def review_form(client, alert_id: str) -> str:
    return csrf_of(client.get(f"/ui/alerts/{alert_id}").text)


def test_dismissing_on_the_page_is_the_apis_review_and_is_audited(scored):
    client, rig, response = scored
    alert_id = flagged(response)[0]["alert_id"]
    assert sign_in(client, rig.tokens["analyst"]).status_code == 303
    done = client.post(
        f"/ui/alerts/{alert_id}/review",
        follow_redirects=False,
        data={
            "csrf": review_form(client, alert_id),
            "outcome": "dismissed",
            "comment": "a backup job",
        },
    )
    assert done.headers["location"] == f"/ui/alerts/{alert_id}?notice=dismissed"
    page = client.get(done.headers["location"]).text
    assert "Review recorded: dismissed." in page and "a backup job" in page
    review = api(client, rig, f"/v1/alerts/{alert_id}")["review"]
    assert (review["status"], review["comment"]) == ("dismissed", "a backup job")
    events = api(client, rig, "/v1/audit?action=review.decide", "auditor")["items"]
    assert [(e["subject"], e["details"]["outcome"]) for e in events] == [(alert_id, "dismissed")]
    assert events[0]["actor"].startswith("token:") and "analyst (test)" in events[0]["actor"]


@pytest.mark.parametrize("csrf", [None, "", "0" * 64, "é" * 64, "other-session", "the-token"])
def test_a_review_post_without_the_right_csrf_token_is_refused(scored, csrf):
    client, rig, response = scored
    alert_id = flagged(response)[0]["alert_id"]
    assert sign_in(client, rig.tokens["admin"]).status_code == 303
    if csrf == "other-session":
        csrf = pages.csrf_token(signed_in(rig, "analyst").cookies[COOKIE])
    elif csrf == "the-token":  # bound to the admin's token rather than its session
        csrf = pages.csrf_token(rig.tokens["admin"])
    form = {"outcome": "confirmed", "comment": "forged"} | ({} if csrf is None else {"csrf": csrf})
    refused = client.post(f"/ui/alerts/{alert_id}/review", data=form, follow_redirects=False)
    assert refused.status_code == 403 and "CSRF token is missing or wrong" in refused.text
    assert api(client, rig, f"/v1/alerts/{alert_id}")["review"] is None
    assert api(client, rig, "/v1/audit?action=review.decide", "auditor")["items"] == []


def test_a_review_needs_a_comment_and_the_analyst_role(scored):
    client, rig, response = scored
    alert_id = flagged(response)[0]["alert_id"]
    assert sign_in(client, rig.tokens["analyst"]).status_code == 303
    empty = client.post(
        f"/ui/alerts/{alert_id}/review",
        data={"csrf": review_form(client, alert_id), "outcome": "dismissed", "comment": "  "},
    )
    assert empty.status_code == 422 and "comment" in empty.text
    viewer = signed_in(rig, "viewer")
    assert 'action="/ui/alerts/' not in viewer.get(f"/ui/alerts/{alert_id}").text
    refused = viewer.post(
        f"/ui/alerts/{alert_id}/review",
        data={"csrf": review_form(viewer, alert_id), "outcome": "dismissed", "comment": "no"},
    )
    assert refused.status_code == 403
    assert api(client, rig, f"/v1/alerts/{alert_id}")["review"] is None


def test_queueing_from_the_page_opens_a_review_once(scored):
    client, rig, response = scored
    alert_id = flagged(response)[0]["alert_id"]
    assert sign_in(client, rig.tokens["analyst"]).status_code == 303
    token = review_form(client, alert_id)
    done = client.post(
        f"/ui/alerts/{alert_id}/queue", data={"csrf": token, "note": "odd"}, follow_redirects=False
    )
    assert done.headers["location"] == f"/ui/alerts/{alert_id}?notice=queued"
    queue = client.get("/ui/reviews").text
    assert f'href="/ui/alerts/{alert_id}"' in queue and "odd" in queue
    again = client.post(f"/ui/alerts/{alert_id}/queue", data={"csrf": token})
    assert again.status_code == 409 and "already in the review queue" in again.text
    events = api(client, rig, "/v1/audit?action=review.queue", "auditor")["items"]
    assert [e["subject"] for e in events] == [alert_id]


def test_an_oversized_form_is_refused(scored):
    client, rig, response = scored
    alert_id = flagged(response)[0]["alert_id"]
    assert sign_in(client, rig.tokens["analyst"]).status_code == 303
    big = client.post(
        f"/ui/alerts/{alert_id}/review",
        content=b"comment=" + b"x" * MAX_FORM_BYTES,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    assert big.json()["error"]["message"] == FORM_TOO_LARGE.format(
        size=MAX_FORM_BYTES + 8, limit=MAX_FORM_BYTES
    )


# --- models, practices, audit ---------------------------------------------------------------


def test_models_and_practices_show_the_trust_report_when_there_is_one(scored):
    client, rig, _ = scored
    model_id = rig.signed.model_id
    folder = rig.settings.reports_dir / model_id
    folder.mkdir(parents=True)
    principles = [
        {
            "item": "OECD-1.4",
            "title": "Robustness, security and safety",
            "status": "partly met",
            "practices": {"met": 2, "not met": 1},
            "key": None,
        }
    ]
    practices = [
        {
            "practice": "P01",
            "title": "Pin every data set by its hash",
            "status": "met",
            "checks": {"data provenance": "pass"},
            "reason": "",
        }
    ]
    (folder / "report.json").write_text(
        json.dumps(
            {
                "model": {"model_id": model_id},
                "governance": {"principles": principles, "crosswalk": {"practices": practices}},
            }
        )
    )
    (folder / "report.html").write_text("<html><body>the report</body></html>")
    assert sign_in(client, rig.tokens["viewer"]).status_code == 303
    models = client.get("/ui/models").text
    assert f'href="/ui/reports/{model_id}"' in models
    assert client.get(f"/ui/reports/{model_id}").text.endswith("the report</body></html>")
    assert client.get(f"/v1/reports/{model_id}?format=html").status_code == 401  # no cookie on /v1
    html = client.get("/ui/practices").text
    assert "Robustness, security and safety" in html and "2 / 0 / 1 / 0" in html
    assert '<span class="badge met">met</span>' in html


def test_the_audit_page_shows_the_chain_check_and_the_latest_events(scored, monkeypatch):
    client, rig, _ = scored
    monkeypatch.setattr(dashboard, "AUDIT_PAGE", 3)
    assert sign_in(client, rig.tokens["auditor"], "/ui/audit").status_code == 303
    twin = client.get("/ui/audit?format=json").json()
    chain = api(client, rig, "/v1/audit/verify", "auditor")
    assert twin["chain"] == chain and chain["ok"]
    assert [e["seq"] for e in twin["items"]] == list(
        range(chain["events"] - 2, chain["events"] + 1)
    )
    html = client.get("/ui/audit").text
    assert '<span class="badge intact">intact</span>' in html
    shown = [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', html)]
    assert shown == sorted(shown, reverse=True) == [e["seq"] for e in reversed(twin["items"])]
