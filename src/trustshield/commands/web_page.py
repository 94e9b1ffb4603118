"""page-features: the phishing-page features TrustShield computes from a URL (and its HTML)."""

from __future__ import annotations

from pathlib import Path

from trustshield.commands.common import print_json
from trustshield.errors import DataError


def register(sub) -> None:
    p = sub.add_parser(
        "page-features",
        help="phishing-page features (phishing-tan2018 spec) from a raw URL and its HTML",
    )
    p.add_argument("url", help="the page's absolute http(s) URL")
    p.add_argument("--html", help="the page's HTML file (without it: the URL features only)")
    p.add_argument("--json", action="store_true", help="print values and missing as JSON")
    p.set_defaults(run=cmd_page_features)


def cmd_page_features(args) -> None:
    from trustshield.features.web_page import web_page_features

    html = None
    if args.html:
        path = Path(args.html)
        if not path.is_file():
            raise DataError(f"--html: file not found: {path}")
        html = path.read_text(encoding="utf-8", errors="replace")
    found = web_page_features(args.url, html)
    if args.json:
        print_json({"values": found.values, "missing": found.missing})
        return
    for name, value in found.values.items():
        print(f"{name:<36} {value:g}")
    print(f"\nnot computed ({len(found.missing)} of {len(found.values) + len(found.missing)}):")
    for name, reason in found.missing.items():
        print(f"  {name:<34} {reason}")
