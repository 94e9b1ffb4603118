"""Alerts of text models (domain names, payloads) in the API and the dashboard: the text
as sent with one exact term per character, coloured on the alert page."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import bearer, sign_in
from domain_samples import domain_names
from trustshield.explain.text_alerts import as_stored, characters_of, text_view
from trustshield.pipeline.domain_store import domain_terms, store_domain_alerts
from trustshield.pipeline.domains import score, train

NAMES = ["homecity.com", "qxzjkvwbfghqxz.net", "mail.qxzjkvwbfgh7.biz"]


@pytest.fixture(scope="module")
def domain_model():
    X, y = domain_names()
    return train(np.asarray(X["domain"]), y, synthetic=40, pseudo=20, n_estimators=30)


@pytest.fixture
def with_domain_alerts(build_service, tmp_path, domain_model):
    rig = build_service(tmp_path / "service")
    with rig.context.write("test-setup") as store:
        run = store_domain_alerts(
            store, domain_model, "d" * 16, NAMES, source_path="names.txt", source_sha256="0" * 64
        )
        alerts = store.alerts()
    assert run.alerts_added == len(alerts) >= 1
    return rig, alerts


def test_text_round_trip_and_what_is_not_a_text_alert():
    values, terms = as_stored("a'b", [0.5, -0.25, 1.0])
    assert characters_of(values, terms) == [("a", 0.5), ("'", -0.25), ("b", 1.0)]
    assert characters_of([float("nan")], [0.3]) is None  # one term for the whole text
    assert characters_of([1.5, 98.0], [0.1, 0.2]) is None
    assert characters_of([float(0xD800)], [0.1]) is None  # a lone surrogate is no text
    text = [{"name": "payload", "type": "text", "categories": None}]
    assert text_view(text, values, terms) == ("a'b", characters_of(values, terms))
    assert text_view([{"name": "n", "type": "real", "categories": None}], values, terms) is None
    with pytest.raises(ValueError, match="character terms"):
        as_stored("ab", [1.0])


def test_domain_terms_sit_on_the_name_label(domain_model):
    verdict = score(domain_model, ["mail.qxzjkvwbfgh7.biz"])[0]
    terms = domain_terms(verdict)
    assert len(terms) == len(verdict.domain)
    start = verdict.domain.index(verdict.name)
    assert terms[start : start + len(verdict.name)] == list(verdict.characters)
    assert sum(terms) + verdict.base == pytest.approx(verdict.score, abs=1e-9)


def test_api_gives_each_character_its_term(with_domain_alerts):
    rig, alerts = with_domain_alerts
    row = alerts.iloc[0]
    with rig.client() as client:
        got = client.get(f"/v1/alerts/{row['alert_id']}", headers=bearer(rig.tokens["viewer"]))
    assert got.status_code == 200, got.text
    body = got.json()
    text = "".join(c["char"] for c in body["characters"])
    assert text in NAMES and body["attributions"][0]["value"] == text
    assert body["technique"] == "T1568.002"
    total = body["base"] + sum(c["contribution"] for c in body["characters"])
    assert total == pytest.approx(body["suspicion"], abs=1e-9)


def test_alert_page_colours_the_characters(with_domain_alerts):
    rig, alerts = with_domain_alerts
    row = alerts.iloc[0]
    with rig.client() as client:
        assert sign_in(client, rig.tokens["viewer"]).status_code == 303
        page = client.get(f"/ui/alerts/{row['alert_id']}")
    assert page.status_code == 200
    spans = page.text.count('<span class="char ')
    text = "".join(chr(int(v)) for v in row["feature_values"])
    assert spans == len(text)
    assert 'class="char up"' in page.text and "text-attribution" in page.text


def test_lists_queue_and_export_take_text_alerts(with_domain_alerts):
    rig, alerts = with_domain_alerts
    chosen = alerts.iloc[0]["alert_id"]
    text = "".join(chr(int(v)) for v in alerts.iloc[0]["feature_values"])
    with rig.client() as client:
        viewer, analyst = bearer(rig.tokens["viewer"]), bearer(rig.tokens["analyst"])
        listed = client.get("/v1/alerts", headers=viewer)
        assert listed.status_code == 200 and chosen in listed.text
        assert sign_in(client, rig.tokens["analyst"]).status_code == 303
        assert client.get("/ui/alerts").status_code == 200
        decided = client.post(
            f"/v1/alerts/{chosen}/review",
            json={"outcome": "confirmed", "comment": "known DGA"},
            headers=analyst,
        )
        assert decided.status_code == 200, decided.text
        exported = client.get("/v1/reviews/export", headers=analyst)
    assert exported.status_code == 200, exported.text
    item = next(i for i in exported.json()["items"] if i["alert_id"] == chosen)
    assert item["features"] == {"domain": text} and item["label"] == "attack"
