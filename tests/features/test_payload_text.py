"""Payload normalisation (with its character map) and hashed n-grams."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trustshield.features.payload_text import (
    hashed_ngrams,
    ngram_occurrences,
    normalise,
    normalise_with_spans,
)

PAYLOAD_CHARS = st.text(alphabet="aAsS eE%27&#x3c;lt/*+\t\n'<>İ", max_size=40)


def test_normalise_undoes_case_encoding_comments_and_blanks():
    assert normalise("SeLeCt/**/1%27%20FROM\t\n users") == "select 1' from users"
    assert normalise("&lt;SCRIPT&gt;") == "<script>"
    assert normalise("%253Cscript%253E") == "<script>"  # double encoding
    assert normalise("a+b") == "a b"
    assert normalise("madrid") == "madrid"


@settings(max_examples=300, deadline=None)
@given(PAYLOAD_CHARS)
def test_the_character_map_gives_the_same_text_and_covers_every_raw_character(raw):
    text, spans = normalise_with_spans(raw)
    assert text == normalise(raw)
    assert len(spans) == len(text)
    assert all(0 <= a < b <= len(raw) for a, b in spans)
    covered = {i for a, b in spans for i in range(a, b)}
    assert covered == set(range(len(raw)))


def test_a_decoded_character_maps_to_its_whole_escape():
    text, spans = normalise_with_spans("a%27b")
    assert text == "a'b" and spans == [(0, 1), (1, 4), (4, 5)]


def test_hashed_ngrams_count_framed_ngrams_per_text_without_crossing_texts():
    texts = ["ab", "", "abc"]
    m = hashed_ngrams(texts, max_n=2, bits=12)
    # "ab" framed: ^ab$ -> unigrams a, b; bigrams ^a, ab, b$ (marks-only grams dropped)
    assert np.diff(m.indptr).tolist() == [5, 0, 7]
    assert np.allclose(m.sum(axis=1).A.ravel(), [5 / np.sqrt(5), 0, 7 / np.sqrt(7)])
    alone = hashed_ngrams(["abc"], max_n=2, bits=12)
    assert sorted(alone.indices.tolist()) == sorted(m.indices[m.indptr[2] :].tolist())


def test_occurrences_list_the_matrix_entries_in_order_with_labels():
    occ = ngram_occurrences("ab", max_n=2, bits=12)
    m = hashed_ngrams(["ab"], max_n=2, bits=12)
    assert [o[0] for o in occ] == m.indices.tolist()
    assert sorted(o[3] for o in occ) == sorted(["a", "b", "^a", "ab", "b$"])
    assert all(0 <= start < end <= 2 for _, start, end, _ in occ)
