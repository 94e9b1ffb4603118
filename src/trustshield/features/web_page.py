"""Phishing-page features from a raw URL and, when given, the page's HTML.

The 48 features of the ``phishing-tan2018`` spec (Tan 2018) are described there; this
module computes those it can from what a user holds: the URL alone gives the URL features,
the URL with the HTML gives the page features too. Standard library only (``urllib``,
``html.parser``, ``ipaddress``); nothing is fetched.

Definitions (counts over the whole URL unless said otherwise):

- ``SubdomainLevel``: labels of the host name before its registered part
  (:func:`site_of`; ``www.example.com`` → 1), 0 for an IP address; ``PathLevel``: non-empty path segments; ``NumQueryComponents``: ``&``- or
  ``;``-separated query parts; ``NumHash``, ``AtSymbol``, ``TildeSymbol``: 1 when present.
- ``DomainInSubdomains`` / ``DomainInPaths``: a common top-level domain (:data:`TLDS`) as a
  label of the subdomains / a dot-separated word of the path.
- ``NumSensitiveWords``: words of :data:`SENSITIVE_WORDS` in the URL (case-insensitive).
- Page features: a link or resource is "external" when it names a host whose registered
  part (:func:`site_of`) differs from the page's; relative links are internal.
  ``PctNullSelfRedirectHyperlinks``: hyperlinks that are empty, start with ``#``, are
  ``javascript:void(0)`` or point back to the page's own URL.
- Rule features (-1 phishing-like, 0 suspicious, 1 legitimate-like), thresholds of the
  rules in Mohammad, Thabtah & McCluskey (2012) that the data set follows:
  ``UrlLengthRT`` (< 54 → 1, ≤ 75 → 0); ``SubdomainLevelRT`` (levels without a leading
  ``www``: ≤ 1 → 1, 2 → 0); ``PctExtNullSelfRedirectHyperlinksRT`` (external + null/self
  share < 0.31 → 1, ≤ 0.67 → 0); ``AbnormalExtFormActionR`` (abnormal action → -1,
  external → 0). Applied to the published table's own base features, the rules reproduce
  its rule columns on 10,000 (URL length), 10,000 (hyperlinks), 9,961 (form action) and
  9,956 (subdomain level, counted there without dropping ``www``) of 10,000 rows.

Not computed (:data:`NOT_COMPUTED`, each with the reason), because the data set's exact
definition is not published (a random-string detector, a brand list), or because it counts
tags the published rule does not name exactly; a caller supplies them or leaves them out.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

from trustshield.errors import DataError

#: top-level domains looked for in subdomains and paths
TLDS = frozenset({"com", "net", "org", "edu", "gov", "info", "biz", "co", "io", "uk", "de"})
#: sensitive words (Garera et al. 2007, as used by the data set)
SENSITIVE_WORDS = (
    "secure",
    "account",
    "webscr",
    "login",
    "ebayisapi",
    "signin",
    "banking",
    "confirm",
)

URL_FEATURES = (
    "NumDots",
    "SubdomainLevel",
    "PathLevel",
    "UrlLength",
    "NumDash",
    "NumDashInHostname",
    "AtSymbol",
    "TildeSymbol",
    "NumUnderscore",
    "NumPercent",
    "NumQueryComponents",
    "NumAmpersand",
    "NumHash",
    "NumNumericChars",
    "NoHttps",
    "IpAddress",
    "DomainInSubdomains",
    "DomainInPaths",
    "HttpsInHostname",
    "HostnameLength",
    "PathLength",
    "QueryLength",
    "DoubleSlashInPath",
    "NumSensitiveWords",
    "SubdomainLevelRT",
    "UrlLengthRT",
)
PAGE_FEATURES = (
    "PctExtHyperlinks",
    "PctExtResourceUrls",
    "ExtFavicon",
    "InsecureForms",
    "RelativeFormAction",
    "ExtFormAction",
    "AbnormalFormAction",
    "PctNullSelfRedirectHyperlinks",
    "FrequentDomainNameMismatch",
    "FakeLinkInStatusBar",
    "RightClickDisabled",
    "PopUpWindow",
    "SubmitInfoToEmail",
    "IframeOrFrame",
    "MissingTitle",
    "ImagesOnlyInForm",
    "AbnormalExtFormActionR",
    "PctExtNullSelfRedirectHyperlinksRT",
)
#: features of the data set this module does not compute, and why
NOT_COMPUTED = {
    "RandomString": "the data set's random-string detector is not published",
    "EmbeddedBrandName": "needs the data set's brand list, which is not published",
    "PctExtResourceUrlsRT": (
        "the rule counts a tag set the data set does not state: the 22 %/61 % rule applied "
        "to PctExtResourceUrls reproduces it on 7,842 of 10,000 published rows"
    ),
    "ExtMetaScriptLinkRT": "the rule's tag set and thresholds are not published",
}
RESOURCE_TAGS = {"img": "src", "script": "src", "iframe": "src", "embed": "src", "source": "src",
                 "audio": "src", "video": "src", "link": "href"}  # fmt: skip


@dataclass(frozen=True)
class PageFeatures:
    """Feature values computed (name → number, spec units: counts, 0/1, shares in [0, 1],
    rules in {-1, 0, 1}) and the spec features left out, with the reason for each."""

    values: dict[str, float]
    missing: dict[str, str] = field(default_factory=dict)


def site_of(host: str) -> str:
    """The registered part of a host name: its last two labels, or three when the second
    last is a short second-level label (``example.co.uk``); an IP address as it is."""
    host = host.lower().rstrip(".")
    if is_ip(host):
        return host
    labels = host.split(".")
    keep = 3 if len(labels) >= 3 and len(labels[-1]) == 2 and len(labels[-2]) <= 3 else 2
    return ".".join(labels[-keep:])


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return bool(re.fullmatch(r"0x[0-9a-f]+|\d{8,10}", host))  # hex or decimal IPv4
    return True


def url_features(url: str) -> dict[str, float]:
    """The URL features (:data:`URL_FEATURES`) of one absolute http(s) URL."""
    parts = split_url(url)
    host = parts.hostname or ""
    ip = is_ip(host)
    labels = host.split(".") if host and not ip else []
    subdomains = labels[: max(len(labels) - len(site_of(host).split(".")), 0)]
    level = len(subdomains)
    words = [w for w in re.split(r"[./]", parts.path.lower()) if w]
    without_www = level - (1 if subdomains[:1] == ["www"] else 0)
    lowered = url.lower()
    query = parts.query
    return {
        "NumDots": url.count("."),
        "SubdomainLevel": level,
        "PathLevel": len([s for s in parts.path.split("/") if s]),
        "UrlLength": len(url),
        "NumDash": url.count("-"),
        "NumDashInHostname": host.count("-"),
        "AtSymbol": int("@" in url),
        "TildeSymbol": int("~" in url),
        "NumUnderscore": url.count("_"),
        "NumPercent": url.count("%"),
        "NumQueryComponents": len([q for q in re.split(r"[&;]", query) if q]) if query else 0,
        "NumAmpersand": url.count("&"),
        "NumHash": int("#" in url),
        "NumNumericChars": sum(c.isdigit() for c in url),
        "NoHttps": int(parts.scheme.lower() != "https"),
        "IpAddress": int(ip),
        "DomainInSubdomains": int(any(s in TLDS for s in subdomains)),
        "DomainInPaths": int(any(w in TLDS for w in words[1:])),
        "HttpsInHostname": int("https" in host),
        "HostnameLength": len(host),
        "PathLength": len(parts.path),
        "QueryLength": len(query),
        "DoubleSlashInPath": int("//" in parts.path),
        "NumSensitiveWords": sum(w in lowered for w in SENSITIVE_WORDS),
        "SubdomainLevelRT": 1 if without_www <= 1 else 0 if without_www == 2 else -1,
        "UrlLengthRT": 1 if len(url) < 54 else 0 if len(url) <= 75 else -1,
    }


def split_url(url: str):
    """urlsplit of an absolute http(s) URL; anything else is a DataError naming the URL."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
    except ValueError as error:
        raise DataError(f"url {text!r}: not a URL ({error})") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise DataError(f"url {text!r}: expected an absolute http:// or https:// URL with a host")
    return parts


class _PageParser(HTMLParser):
    """Collects what the page features need in one pass over the HTML."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.resources: list[str] = []
        self.favicons: list[str] = []
        self.forms: list[dict] = []
        self.frames = 0
        self.title: list[str] = []
        self._in_title = False
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v or "") for k, v in attrs}
        if tag == "a" and "href" in a:
            self.links.append(a["href"].strip())
        if tag in RESOURCE_TAGS and RESOURCE_TAGS[tag] in a:
            rel = a.get("rel", "").lower()
            (self.favicons if "icon" in rel else self.resources).append(
                a[RESOURCE_TAGS[tag]].strip()
            )
        if tag in ("iframe", "frame"):
            self.frames += 1
        if tag == "title":
            self._in_title = True
        if tag == "form":
            self._form = {"action": a.get("action", "").strip(), "text": "", "images": 0}
            self.forms.append(self._form)
        if self._form is not None and (tag == "img" or a.get("type", "").lower() == "image"):
            self._form["images"] += 1

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "form":
            self._form = None

    def handle_data(self, data):
        if self._in_title:
            self.title.append(data)
        if self._form is not None:
            self._form["text"] += data.strip()


def page_features(url: str, html: str) -> dict[str, float]:
    """The page features (:data:`PAGE_FEATURES`) of the HTML served at ``url``."""
    parts = split_url(url)
    own = site_of(parts.hostname or "")
    parser = _PageParser()
    parser.feed(html)
    parser.close()

    def external(ref: str) -> bool:
        host = urlsplit(urljoin(url, ref)).hostname
        return host is not None and bool(host) and site_of(host) != own

    def null_or_self(ref: str) -> bool:
        low = ref.lower()
        return (
            not low
            or low.startswith("#")
            or low.startswith("javascript:void")
            or urljoin(url, ref).split("#")[0] == url.split("#")[0]
        )

    def share(items: list[str], test) -> float:
        return sum(map(test, items)) / len(items) if items else 0.0

    links = parser.links
    ext_links = share(links, external)
    null_self = share(links, null_or_self)
    actions = [f["action"] for f in parser.forms]
    abnormal = any(
        a.lower() in ("", "#", "about:blank") or a.lower().startswith("javascript:")
        for a in actions
    )
    ext_action = any(external(a) for a in actions if a and not a.startswith("#"))
    sites = [site_of(h) for ref in links if (h := urlsplit(urljoin(url, ref)).hostname)]
    frequent = max(sorted(set(sites)), key=lambda s: (sites.count(s), s == own)) if sites else own
    low = html.lower()
    both = ext_links + null_self
    return {
        "PctExtHyperlinks": ext_links,
        "PctExtResourceUrls": share(parser.resources, external),
        "ExtFavicon": int(any(external(f) for f in parser.favicons)),
        "InsecureForms": int(any(a.lower().startswith("http://") for a in actions)),
        "RelativeFormAction": int(any(a and not urlsplit(a).scheme for a in actions)),
        "ExtFormAction": int(ext_action),
        "AbnormalFormAction": int(abnormal),
        "PctNullSelfRedirectHyperlinks": null_self,
        "FrequentDomainNameMismatch": int(frequent != own),
        "FakeLinkInStatusBar": int("window.status" in low and "onmouseover" in low),
        "RightClickDisabled": int(
            "event.button==2" in low.replace(" ", "") or 'oncontextmenu="return false' in low
        ),
        "PopUpWindow": int("window.open(" in low.replace(" ", "")),
        "SubmitInfoToEmail": int(any(a.lower().startswith("mailto:") for a in actions)),
        "IframeOrFrame": int(parser.frames > 0),
        "MissingTitle": int(not "".join(parser.title).strip()),
        "ImagesOnlyInForm": int(any(f["images"] and not f["text"] for f in parser.forms)),
        "AbnormalExtFormActionR": -1 if abnormal else 0 if ext_action else 1,
        "PctExtNullSelfRedirectHyperlinksRT": 1 if both < 0.31 else 0 if both <= 0.67 else -1,
    }


def web_page_features(url: str, html: str | None = None) -> PageFeatures:
    """URL features, plus the page features when ``html`` is given; ``missing`` names
    every feature of the data set not computed and why."""
    values = url_features(url)
    missing = dict(NOT_COMPUTED)
    if html is None:
        missing |= {name: "needs the page's HTML" for name in PAGE_FEATURES}
    else:
        values |= page_features(url, html)
    return PageFeatures({k: float(v) for k, v in values.items()}, missing)
