"""The dashboard in a real browser: an analyst signs in, opens an alert, reads its
attribution chart and dismisses it; an auditor then finds the review in the audit chain.

The service runs under uvicorn in a background thread on 127.0.0.1 (a free port), on a
temporary store with the signed tiny model active and alerts scored through ``POST
/v1/score``. Playwright drives the system Chromium (``executable_path``; no downloaded
browser). A 1280x800 screenshot of every page (and of the alert once reviewed) is written to ``tests-output/screenshots/``
at the repository root (git-ignored). Any console error (a Content-Security-Policy
violation among them) or page error fails the test.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from conftest import sample_records
from live_browser import chromium, new_tab, serving
from trustshield.report.svg import TOP_FEATURES as TOP

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "tests-output" / "screenshots"


@pytest.fixture(scope="module")
def live(build_service, tmp_path_factory):
    """(base URL, rig, score response) of a service running under uvicorn."""
    rig = build_service(tmp_path_factory.mktemp("dashboard-browser"))
    with serving(rig.app) as base:
        with httpx.Client(base_url=base, timeout=30) as client:
            rig.activate(client)
            scored = rig.score(client, sample_records(rig.signed.frame))
        yield base, rig, scored


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def tab(browser):
    """A fresh browser context (no cookies) at 1280x800; collects console and page errors."""
    with new_tab(browser) as page:
        yield page


def shot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000, f"{name}: the screenshot looks empty"
    return path


def sign_in(page, base: str, token: str, target: str) -> None:
    page.goto(base + target)
    assert page.url.startswith(base + "/ui/login?"), "an anonymous page request must go to sign in"
    page.fill("#token", token)
    page.click("button[type=submit]")
    assert page.url == base + target


def top_attribution(result: dict) -> str:
    """The feature with the largest |contribution| in a scored result."""
    return max(result["attributions"], key=lambda a: abs(a["contribution"]))["feature"]


def test_analyst_reviews_an_alert_and_the_auditor_sees_it(live, tab):
    started = time.monotonic()
    base, rig, scored = live
    flagged = [r for r in scored["results"] if r.get("alert_id")]
    assert flagged, "the sample records must raise alerts"
    chosen = max(flagged, key=lambda r: r["suspicion"])

    tab.goto(base + "/ui/login")
    shot(tab, "login")
    sign_in(tab, base, rig.tokens["analyst"], "/ui/alerts")
    assert tab.locator("table.alerts tbody tr").count() == len(flagged)
    shot(tab, "alerts")

    tab.click(f'a[href="/ui/alerts/{chosen["alert_id"]}"]')
    assert tab.url == f"{base}/ui/alerts/{chosen['alert_id']}"
    features = len(chosen["attributions"])  # every feature: the tiny model has fewer than 10
    assert tab.locator("svg.chart rect").count() == min(features, TOP) + (features > TOP)
    assert (
        tab.locator("svg.chart text.label")
        .first.text_content()
        .startswith(top_attribution(chosen) + " = ")
    )
    assert tab.locator("svg.chart rect.positive").count() >= 1
    shot(tab, "alert-detail")

    tab.fill("#comment", "benign <b>backup</b> job, checked with the owner")
    tab.click("button[value=dismissed]")
    assert tab.url == f"{base}/ui/alerts/{chosen['alert_id']}?notice=dismissed"
    assert tab.locator(".notice").text_content().strip() == "Review recorded: dismissed."
    assert (
        tab.locator(".review-comment").text_content()
        == "benign <b>backup</b> job, checked with the owner"
    )
    shot(tab, "alert-reviewed")

    tab.goto(base + "/ui/reviews?status=dismissed")
    assert tab.locator("table.reviews tbody tr").count() == 1
    assert chosen["alert_id"] in tab.locator("table.reviews tbody").text_content()
    shot(tab, "reviews")
    tab.goto(base + "/ui/models")
    assert tab.locator("table.models .badge.active").count() == 1
    shot(tab, "models")
    tab.goto(base + "/ui/practices")
    assert tab.locator("table.practices tbody tr").count() > 10
    shot(tab, "practices")

    tab.click("text=Sign out")
    assert tab.url == base + "/ui/login?notice=signed-out"
    sign_in(tab, base, rig.tokens["auditor"], "/ui/audit")
    decided = tab.locator("table.audit tbody tr", has_text="review.decide")
    assert decided.count() == 1
    assert chosen["alert_id"] in decided.text_content()
    assert tab.locator(".chain .badge").text_content() == "intact"
    shot(tab, "audit")

    assert tab.problems == []
    assert time.monotonic() - started < 30
