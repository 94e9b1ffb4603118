"""Phishing-page features from a raw URL and HTML: definitions, the missing list, errors."""

import json
import subprocess
import sys

import pytest

from trustshield.errors import DataError
from trustshield.features.web_page import (
    NOT_COMPUTED,
    PAGE_FEATURES,
    URL_FEATURES,
    site_of,
    web_page_features,
)
from trustshield.specs import load_spec

URL = "http://secure-login.paypal.com.example.co.uk/a/www.bank.com/login.php?x=1&y=2#top"
PAGE = """<html><head><title>Sign in</title><link rel="icon" href="http://cdn.other.net/f.ico">
<script src="/local.js"></script><script src="https://cdn.other.net/x.js"></script></head>
<body onmouseover="window.status='https://paypal.com'">
<a href="#">a</a><a href="javascript:void(0)">b</a><a href="http://paypal.com/x">c</a>
<a href="http://paypal.com/y">d</a><a href="/help">e</a>
<form action="mailto:drop@example.org"><img src="button.png"></form>
<iframe src="http://ads.other.net/"></iframe><script>window.open('x')</script></body></html>"""


def test_url_features_follow_their_definitions():
    values = web_page_features(URL).values
    assert values["NumDots"] == URL.count(".")
    assert values["UrlLength"] == len(URL)
    assert values["SubdomainLevel"] == 3  # secure-login.paypal.com before example.co.uk
    assert values["PathLevel"] == 3
    assert values["NumQueryComponents"] == 2
    assert values["NumHash"] == 1 and values["NoHttps"] == 1 and values["IpAddress"] == 0
    assert values["DomainInSubdomains"] == 1  # "com" among the subdomains
    assert values["DomainInPaths"] == 1  # "com" in the path
    assert values["NumSensitiveWords"] == 2  # secure, login
    assert values["NumDashInHostname"] == 1
    assert values["UrlLengthRT"] == -1 and values["SubdomainLevelRT"] == -1


def test_short_https_url_and_ip_host():
    short = web_page_features("https://www.example.com/").values
    assert short["NoHttps"] == 0 and short["SubdomainLevel"] == 1
    assert short["UrlLengthRT"] == 1 and short["SubdomainLevelRT"] == 1
    ip = web_page_features("http://192.0.2.7/login").values
    assert ip["IpAddress"] == 1 and ip["SubdomainLevel"] == 0


def test_page_features_from_html():
    values = web_page_features(URL, PAGE).values
    # hyperlinks: #, javascript:void, 2 to paypal.com (external), /help (internal)
    assert values["PctExtHyperlinks"] == pytest.approx(2 / 5)
    assert values["PctNullSelfRedirectHyperlinks"] == pytest.approx(2 / 5)
    assert values["PctExtNullSelfRedirectHyperlinksRT"] == -1  # 0.8 > 0.67
    # resources: /local.js, cdn.other.net/x.js, button.png, the iframe (2 external)
    assert values["PctExtResourceUrls"] == pytest.approx(2 / 4)
    assert values["ExtFavicon"] == 1
    assert values["SubmitInfoToEmail"] == 1 and values["ImagesOnlyInForm"] == 1
    assert values["FrequentDomainNameMismatch"] == 0  # 2 links each: a tie keeps the page's
    assert values["FakeLinkInStatusBar"] == 1 and values["PopUpWindow"] == 1
    assert values["IframeOrFrame"] == 1 and values["MissingTitle"] == 0
    assert values["AbnormalFormAction"] == 0 and values["AbnormalExtFormActionR"] == 1


def test_most_linked_domain_differs():
    links = (
        '<a href="http://paypal.com/a">1</a><a href="http://paypal.com/b">2</a><a href="/c">3</a>'
    )
    values = web_page_features("https://a.example.com/", links).values
    assert values["FrequentDomainNameMismatch"] == 1


def test_abnormal_and_external_form_actions():
    blank = web_page_features("https://a.example.com/", '<form action="about:blank"></form>')
    assert blank.values["AbnormalFormAction"] == 1
    assert blank.values["AbnormalExtFormActionR"] == -1
    ext = web_page_features("https://a.example.com/", '<form action="http://evil.test/p"></form>')
    assert ext.values["ExtFormAction"] == 1 and ext.values["InsecureForms"] == 1
    assert ext.values["AbnormalExtFormActionR"] == 0
    assert web_page_features("https://a.example.com/", "<p>x</p>").values["MissingTitle"] == 1


def test_every_spec_feature_is_computed_or_named_missing():
    spec = load_spec("phishing-tan2018")
    for html in (None, PAGE):
        found = web_page_features(URL, html)
        assert set(found.values) | set(found.missing) == set(spec.feature_names)
        assert not set(found.values) & set(found.missing)
        assert all(found.missing.values())
    assert set(web_page_features(URL).missing) == set(NOT_COMPUTED) | set(PAGE_FEATURES)
    assert set(web_page_features(URL).values) == set(URL_FEATURES)


def test_values_fit_the_spec_ranges():
    spec = load_spec("phishing-tan2018")
    columns = {c.name: c for c in spec.features}
    for name, value in web_page_features(URL, PAGE).values.items():
        column = columns[name]
        if column.type in ("binary",):
            assert value in (0, 1), name
        if column.type == "rate":
            assert 0 <= value <= 1, name


@pytest.mark.parametrize("bad", ["not a url", "ftp://example.com/x", "http:///path", ""])
def test_bad_url_is_refused_naming_it(bad):
    with pytest.raises(DataError, match="url"):
        web_page_features(bad)


def test_site_of():
    assert site_of("a.b.example.com") == "example.com"
    assert site_of("www.example.co.uk") == "example.co.uk"
    assert site_of("10.0.0.1") == "10.0.0.1"


def test_cli_prints_values_and_missing(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(PAGE, encoding="utf-8")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "trustshield.cli",
            "page-features",
            URL,
            "--html",
            str(page),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(out.stdout)
    assert found["values"]["SubmitInfoToEmail"] == 1
    assert set(found["missing"]) == set(NOT_COMPUTED)
    bad = subprocess.run(
        [sys.executable, "-m", "trustshield.cli", "page-features", "nope"],
        capture_output=True,
        text=True,
    )
    assert bad.returncode != 0 and "url 'nope'" in bad.stderr
