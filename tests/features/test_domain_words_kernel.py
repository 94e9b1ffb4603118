"""Compiled word segmentation equals the array version on names of every shape: words,
random letters, digits and hyphens, no letters at all, the longest label."""

import numpy as np

from domain_samples import domain_names
from trustshield.detectors.domain import pseudo_names, synthetic_names
from trustshield.features import domain as domain_features
from trustshield.features import domain_words


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
