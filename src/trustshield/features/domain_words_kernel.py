"""Compiled word segmentation of :mod:`trustshield.features.domain_words` (numba; imported
on first use): name by name, the same dynamic programme and the same arithmetic as the
array version, so the features are equal to it."""

from __future__ import annotations

# mypy: disable-error-code="no-untyped-def"

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, inline="always")
def _find(key, slots, slot_word, shift, mix):  # pragma: no cover
    """Index of ``key`` in the dictionary (open addressing, linear probing), -1 if none."""
    mask = np.uint64(len(slots) - 1)
    slot = (key * mix) >> shift
    while True:
        held = slots[slot]
        if held == key:
            return slot_word[slot]
        if held == 0:
            return -1
        slot = (slot + np.uint64(1)) & mask


@numba.njit(cache=True, nogil=True)
def word_features(
    codes,
    lengths,
    slots,
    slot_word,
    logp,
    rank_of,
    pair_keys,
    pair_logc,
    unigram_logc,
    max_word,
    base,
    shift,
    mix,
    total,
    unseen_pmi,
):  # pragma: no cover
    """(n, 7) word features of names given as character codes (n, L) (letters 1-26;
    other characters are skipped) with their character counts (n,)."""
    n = codes.shape[0]
    out = np.zeros((n, 7))
    m = len(rank_of)
    width = codes.shape[1]
    letters = np.zeros(width, dtype=np.int64)
    best = np.zeros(width + 1)
    back = np.ones(width + 1, dtype=np.int64)
    ranks = np.full(width + 1, -1, dtype=np.int64)
    for r in range(n):
        size = 0
        for j in range(lengths[r]):
            c = codes[r, j]
            if 1 <= c <= 26:
                letters[size] = c
                size += 1
        best[0] = 0.0
        for end in range(1, size + 1):
            top = -np.inf
            top_k, top_rank = 1, -1
            # words ending at ``end``: k = 1, 2, ... letters, keys built right to left
            for k in range(1, min(max_word, end) + 1):
                key = np.uint64(0)
                for q in range(end - k, end):
                    key = key * np.uint64(base) + np.uint64(letters[q])
                found = _find(key, slots, slot_word, shift, mix)
                if found >= 0:
                    score = logp[found]
                    word_rank = rank_of[found]
                else:
                    score = 1.0 - total - k
                    word_rank = -1
                cand = best[end - k] + score
                if cand > top:
                    top, top_k, top_rank = cand, k, word_rank
            best[end], back[end], ranks[end] = top, top_k, top_rank
        n_words, known, pmi_sum, pmi_min, n_pairs, unseen = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        next_rank = -1
        pos = size
        while pos > 0:
            k, word_rank = back[pos], ranks[pos]
            n_words += 1
            if word_rank >= 0 and k >= 3:
                known += k
            if word_rank >= 0 and next_rank >= 0:
                pair = word_rank * m + next_rank
                at = min(np.searchsorted(pair_keys, pair), len(pair_keys) - 1)
                if pair_keys[at] == pair:
                    pmi = pair_logc[at] + total - unigram_logc[word_rank] - unigram_logc[next_rank]
                else:
                    pmi = unseen_pmi
                pmi_min = min(pmi_min, pmi) if n_pairs > 0 else pmi
                pmi_sum += pmi
                n_pairs += 1
                unseen += pmi == unseen_pmi
            next_rank = word_rank
            pos -= k
        safe = max(size, 1)
        out[r, 0] = n_words
        out[r, 1] = size / max(n_words, 1.0)
        out[r, 2] = known / safe
        out[r, 3] = best[size] / safe if size > 0 else 0.0
        out[r, 4] = pmi_sum / max(n_pairs, 1.0)
        out[r, 5] = pmi_min
        out[r, 6] = unseen
    return out
