"""Payload explanations: exact per character and per n-gram, on the payload as sent."""

import numpy as np
import pandas as pd
import pytest

from trustshield.detectors.payload import PayloadDetector
from trustshield.explain.payload import explain_payloads

NORMAL = ["madrid", "calle mayor 5", "juan@example.org", "28001", "perez garcia", "1234567890"]
ATTACK = ["1' or 1=1--", "<script>alert(1)</script>", "../../etc/passwd", "a;id"]
TYPES = ["sqli", "xss", "path-traversal", "cmdi"]


@pytest.fixture(scope="module")
def detector():
    X = pd.DataFrame({"payload": NORMAL * 4 + ATTACK * 4})
    return PayloadDetector(bits=14).fit(X, ["normal"] * 24 + TYPES * 4)


def test_terms_and_characters_sum_to_the_score(detector):
    payloads = [*ATTACK, *NORMAL, "1%27%20OR%201=1", "", "SELECT/**/1"]
    scores, _ = detector.score_payloads(payloads)
    found = detector.terms(payloads)
    np.testing.assert_allclose(found.total(), scores, atol=1e-12, rtol=0)
    for e, s in zip(explain_payloads(detector, payloads), scores):
        assert e.score == pytest.approx(s, abs=1e-12)
        assert e.gap() < 1e-9 and e.chars.shape == (len(e.payload),)
        assert sum(g.contribution for g in e.ngrams) == pytest.approx(s - e.base, abs=1e-9)


def test_an_attack_is_named_with_its_cwe_and_pushed_by_its_own_characters(detector):
    (e,) = explain_payloads(detector, ["<script>alert(2)</script>"])
    assert e.attack_type == "xss" and e.cwe == "CWE-79" and e.technique == "T1190"
    assert e.score > 0 and e.ngrams[0].contribution > 0
    a, b = e.ngrams[0].spans[0]
    assert e.payload[a:b].lower() in e.ngrams[0].text.strip("^$")


def test_an_escape_shares_its_decoded_characters_term(detector):
    (e,) = explain_payloads(detector, ["1%27 or 1=1--"])
    assert e.chars[1] == pytest.approx(e.chars[2]) == pytest.approx(e.chars[3])
    assert e.as_dict(top=3)["ngrams"][0]["spans"]


def test_without_normalisation_case_changes_the_features():
    X = pd.DataFrame({"payload": NORMAL * 2 + ATTACK * 2})
    y = ["normal"] * 12 + TYPES * 2
    plain = PayloadDetector(bits=12, normalise=False).fit(X, y)
    hard = PayloadDetector(bits=12).fit(X, y)
    upper = ["<SCRIPT>ALERT(1)</SCRIPT>"]
    assert hard.score_payloads(upper)[0] == pytest.approx(hard.score_payloads([ATTACK[1]])[0])
    assert plain.score_payloads(upper)[0] != pytest.approx(plain.score_payloads([ATTACK[1]])[0])


def test_highlighting_escapes_every_character_and_colours_by_sign(detector):
    from trustshield.explain.payload import highlight_html

    (e,) = explain_payloads(detector, ["<script>alert(1)</script>"])
    page = highlight_html(e)
    assert "<script>" not in page and "&lt;" in page
    assert page.count("<span") == len(e.payload)
    assert "220,38,38" in page  # some character pushes towards the attack


def test_attack_type_labels_spelt_as_other_data_sets_spell_them_get_their_cwe():
    from trustshield.detectors.payload import CWE, known_type

    assert [CWE[known_type(label)] for label in ("SQL Injection", "sql_injection", "SQLi")] == [
        "CWE-89"
    ] * 3
    assert CWE[known_type("Cross-Site Scripting")] == "CWE-79"
    assert CWE[known_type("OS command injection")] == "CWE-78"
    assert CWE[known_type("Directory Traversal")] == "CWE-22"
    assert known_type("ldap-injection") is None


def test_ngrams_only_above_the_asked_score_characters_always(detector):
    payloads = [*ATTACK, *NORMAL]
    every = explain_payloads(detector, payloads)
    cut = float(np.median([e.score for e in every]))
    some = explain_payloads(detector, payloads, ngrams_above=cut)
    for full, part in zip(every, some, strict=True):
        np.testing.assert_array_equal(part.chars, full.chars)
        assert part.ngrams == (full.ngrams if full.score > cut else ())
    assert any(e.ngrams for e in some) and any(not e.ngrams for e in some)
