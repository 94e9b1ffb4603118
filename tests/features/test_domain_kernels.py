"""Compiled word segmentation and n-gram lookup equal their array versions on names of
every shape: words, random letters, digits and hyphens, no letters at all, the longest
label."""

import numpy as np

from domain_samples import domain_names
from trustshield.detectors.domain import pseudo_names, synthetic_names
from trustshield.features import domain as domain_features
from trustshield.features import domain_terms, domain_words


def test_compiled_segmentation_equals_the_array_version():
    X, _ = domain_names()
    odd = ["a1b2-c3.com", "123-456.net", "x.org", "q" * 63 + ".com", "the-cat.sat.on.co.uk"]
    names = domain_features.parse(
        [*X["domain"], *synthetic_names(300, 1), *pseudo_names(100, 1), *odd]
    )
    compiled = domain_words.word_features(names)
    arrays = domain_words.word_features_arrays(names)
    np.testing.assert_array_equal(compiled, arrays)
    assert compiled[-4, 0] == 0  # no letters: no words
    assert (compiled[len(X) : len(X) + 300, 2] > 0.9).mean() > 0.9  # dictionary words known


def test_compiled_ngram_lookup_equals_the_array_version():
    X, _ = domain_names()
    train = domain_features.parse(list(X["domain"]))
    space = domain_terms.learn_space(train, domain_terms.dense(train))
    names = domain_features.parse(
        ["a1b2-c3.com", "x.org", "q" * 63 + ".com", *X["domain"][:20], "zzzzqqqq.net"]
    )
    compiled = domain_terms.encode(space, names, domain_terms.dense(names))
    arrays = domain_terms.ngram_ids_arrays(space, names)
    np.testing.assert_array_equal(compiled[:, : arrays.shape[1]], arrays)
    assert (arrays >= 0).any() and (arrays < 0).any()
