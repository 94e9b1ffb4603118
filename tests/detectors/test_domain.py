"""The ``domain`` detector: exact explanations down to characters, family naming, state
round trip and clear errors; the domain features it is built on."""

import json

import numpy as np
import pandas as pd
import pytest

from domain_samples import domain_names
from trustshield.detectors.domain import (
    STACK_FEATURES,
    DomainDetector,
    _characters,
    synthetic_names,
)
from trustshield.detectors.registry import detector_from_dict
from trustshield.errors import DataError
from trustshield.features import domain as domain_features
from trustshield.features import domain_words


@pytest.fixture(scope="module")
def fitted():
    X, y = domain_names()
    return DomainDetector(synthetic=40, pseudo=20, n_estimators=30).fit(X, y), X, y


def test_explanation_is_exact_per_feature_and_per_character(fitted):
    detector, X, _ = fitted
    e = detector.explain_domains(X)
    scores = detector.suspicion(X)
    np.testing.assert_allclose(e.score, scores, rtol=0, atol=1e-9)
    np.testing.assert_allclose(e.base + e.parts.sum(axis=1), scores, rtol=0, atol=1e-9)
    by_chars = e.base + np.array([e.characters_of(i).sum() for i in range(len(X))])
    np.testing.assert_allclose(by_chars, scores, rtol=0, atol=1e-9)
    assert [len(e.characters_of(i)) for i in range(len(X))] == [len(n) for n in e.names]
    np.testing.assert_allclose(detector.explain(X).total(), scores, rtol=0, atol=1e-9)
    assert [f for f, _, _ in e.features(0)][0] in STACK_FEATURES


def test_ngram_terms_add_up_to_the_ngram_score(fitted):
    detector, X, _ = fitted
    e = detector.explain_domains(X)
    column = STACK_FEATURES.index("ngram_score")
    for i in (0, len(X) - 1):
        terms = e.ngrams(i, top=10_000)
        total = detector.terms_.intercept + sum(w for _, w in terms)
        assert total == pytest.approx(e.values[i, column], abs=1e-9)
        assert abs(terms[0][1]) >= abs(terms[-1][1])


def test_each_feature_part_lands_on_the_characters_it_is_about(fitted):
    detector, _, _ = fitted
    scored = detector._score_inputs(pd.DataFrame({"domain": ["abc7d-f.com"]}), "explain")
    for feature, where in (("digits", [3]), ("hyphens", [5]), ("length", range(7))):
        shap = np.zeros((1, len(STACK_FEATURES)))
        shap[0, STACK_FEATURES.index(feature)] = 2.0
        chars = _characters(detector.terms_, scored, shap, 7)[0]
        expected = np.zeros(7)
        expected[list(where)] = 2.0 / len(where)
        np.testing.assert_allclose(chars, expected, atol=1e-12)


def test_generated_names_outscore_legitimate_ones_and_get_a_family(fitted):
    detector, X, y = fitted
    scores = detector.suspicion(X)
    assert scores[y != "normal"].min() > scores[y == "normal"].max()
    e = detector.explain_domains(X)
    assert set(e.family) <= {"family-a", "family-b"}
    named = np.array(e.family)[y != "normal"]
    assert (named == y[y != "normal"]).mean() > 0.9
    assert ((e.family_p > 0) & (e.family_p <= 1)).all()


def test_state_is_plain_json_and_scores_and_names_identically(fitted):
    detector, X, _ = fitted
    again = detector_from_dict(json.loads(json.dumps(detector.to_dict())))
    np.testing.assert_array_equal(again.suspicion(X), detector.suspicion(X))
    assert again.explain_domains(X).family == detector.explain_domains(X).family


@pytest.mark.parametrize(
    "value, says",
    [
        (None, "domain at row 1: missing value; expected a domain name"),
        (7, "domain at row 1: expected text, got int 7"),
        ("", "domain at row 1: expected an ASCII domain name"),
        ("пример.рф", "IDNA xn-- form"),
        ("a" * 300 + ".com", "of 1 to 253 characters"),
    ],
)
def test_bad_domains_are_refused_naming_the_row(fitted, value, says):
    detector, _, _ = fitted
    with pytest.raises(DataError, match=says):
        detector.suspicion(pd.DataFrame({"domain": ["example.com", value]}))


def test_a_frame_without_the_domain_column_is_refused(fitted):
    detector, _, _ = fitted
    with pytest.raises(DataError, match="needs a text column 'domain'; got columns \\['name'\\]"):
        detector.suspicion(pd.DataFrame({"name": ["example.com"]}))


def test_fit_needs_both_classes():
    X, _ = domain_names()
    with pytest.raises(DataError, match="both legitimate and DGA rows"):
        DomainDetector(synthetic=0).fit(X, np.full(len(X), "normal"))


def test_names_split_into_name_label_and_tld():
    names = domain_features.parse(["Shop.Example.co.uk.", "x1-y.ddns.net", "localhost"])
    assert names.names == ("example", "x1-y", "localhost")
    assert names.tlds == ("uk", "net", "localhost")
    assert names.lengths.tolist() == [7, 4, 9]
    values = dict(zip(domain_features.FEATURES, domain_features.engineered(names)[1]))
    assert values["digits"] == 0.25 and values["hyphens"] == 1 and values["labels"] == 3


def test_word_features_tell_a_phrase_from_random_words_and_from_gibberish():
    names = domain_features.parse(["plasticbags.com", "journeyvalley.net", "qxzkvwbfgh.com"])
    f = {k: v for k, v in zip(domain_words.FEATURES, domain_words.word_features(names).T)}
    assert f["words"][:2].tolist() == [2, 2] and f["known"][0] == 1.0 and f["known"][1] == 1.0
    assert f["pmi_mean"][0] > f["pmi_mean"][1]  # plastic bags go together; journey valley less
    assert f["known"][2] < 0.5 and f["word_logp"][2] < f["word_logp"][0]


def test_synthetic_names_are_deterministic_word_concatenations():
    first, again = synthetic_names(20, seed=1), synthetic_names(20, seed=1)
    assert first == again and first != synthetic_names(20, seed=2)
    names = domain_features.parse(first)
    assert (domain_words.word_features(names)[:, 2] == 1.0).mean() > 0.8  # all letters known


def test_families_are_named_only_above_the_given_score(fitted):
    detector, X, y = fitted
    e = detector.explain_domains(X, name_above=0.0)
    named = np.array([f != "" for f in e.family])
    np.testing.assert_array_equal(named, e.score > 0.0)
    assert (e.family_p[~named] == 0).all() and named.any() and not named.all()
