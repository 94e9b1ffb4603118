"""Text-model alerts in a real browser: a domain name's characters and a payload's
characters coloured by their terms on the alert page, with no console or CSP error.

The service runs under uvicorn on 127.0.0.1 (see ``live_browser``) over a store holding
the alerts of a small domain model and a small payload model, written by the same store
functions ``domains score --store`` and ``payloads detect --store`` use."""

from __future__ import annotations

import numpy as np
import pytest

from domain_samples import domain_names
from live_browser import chromium, new_tab, serving
from test_dashboard_browser import shot, sign_in
from trustshield.cli import main
from trustshield.pipeline.domain_store import store_domain_alerts
from trustshield.pipeline.domains import train
from trustshield.pipeline.payload_model import load_payload_model
from trustshield.pipeline.payload_store import store_payload_detections

pytestmark = pytest.mark.browser

NORMAL = ["madrid", "calle mayor 5", "juan@example.org", "28001", "ana lopez", "maria"]
ATTACK = [
    ("1' or 1=1--", "sqli"),
    ("1 union select null,null--", "sqli"),
    ("<script>alert(1)</script>", "xss"),
    ("../../etc/passwd", "path-traversal"),
    ("a;/usr/bin/id", "cmdi"),
]


def _payload_model(folder):
    rows = [(p, "norm") for p in NORMAL] * 3 + ATTACK * 3
    lines = ['"payload","attack_type"'] + ['"' + p.replace('"', '""') + f'","{t}"' for p, t in rows]
    (folder / "train.csv").write_text("\r\n".join(lines) + "\r\n")
    args = ["payloads", "train", "--data", str(folder / "train.csv")]
    args += ["--out", str(folder / "model.json"), "--folds", "2", "--augment", "1", "--bits", "12"]
    assert main(args) == 0
    return load_payload_model(folder / "model.json")


@pytest.fixture(scope="module")
def live(build_service, tmp_path_factory):
    root = tmp_path_factory.mktemp("text-alerts-browser")
    X, y = domain_names()
    domains = train(np.asarray(X["domain"]), y, synthetic=40, pseudo=20, n_estimators=30)
    payloads = _payload_model(root)
    rig = build_service(root / "service")
    with rig.context.write("test-setup") as store:
        store_domain_alerts(
            store,
            domains,
            "d" * 16,
            ["qxzjkvwbfghqxz.net"],
            source_path="t",
            source_sha256="0" * 64,
        )
        store_payload_detections(
            store,
            payloads,
            "p" * 16,
            ["<script>alert(7)</script>"],
            source_path="t",
            source_sha256="1" * 64,
        )
        alerts = store.alerts()
    with serving(rig.app) as base:
        yield base, rig, alerts


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


def test_domain_and_payload_characters_are_coloured(live, browser):
    base, rig, alerts = live
    assert set(alerts["component"]) == {"domain", "payload"}
    with new_tab(browser) as tab:
        sign_in(tab, base, rig.tokens["viewer"], "/ui/alerts")
        for _, row in alerts.iterrows():
            text = "".join(chr(int(v)) for v in row["feature_values"])
            tab.goto(f"{base}/ui/alerts/{row['alert_id']}")
            chars = tab.locator(".text-attribution span.char")
            assert chars.count() == len(text)
            assert "".join(chars.all_text_contents()) == text
            assert tab.locator(".text-attribution span.char.up").count() >= 1
            shot(tab, f"alert-{row['component']}-characters")
        assert tab.problems == []
