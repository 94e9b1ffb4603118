"""Compiled n-gram lookup of :mod:`trustshield.features.domain_terms` (numba; imported on
first use): every name's boundary-marked character n-grams, numbered as
:func:`~trustshield.features.domain_terms.encode` numbers them, in the slot layout of
:func:`~trustshield.features.domain_terms.ngram_slots`."""

from __future__ import annotations

# mypy: disable-error-code="no-untyped-def"

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def ngram_ids(codes, lengths, orders, ngrams, base):  # pragma: no cover
    """Term numbers (n, P) of the n-gram windows of names coded (n, W) with lengths (n,):
    for each order k of ``orders``, W + 3 - k windows over the name framed by boundary
    marks (``base``); the index of the window's key in the sorted ``ngrams``, -1 when
    it is not there or the window runs past the name."""
    n, width = codes.shape
    radix = base + 1
    slots = 0
    for k in orders:
        slots += width + 3 - k
    out = np.full((n, slots), -1, dtype=np.int64)
    framed = np.empty(width + 2, dtype=np.int64)
    size = len(ngrams)
    for r in range(n):
        length = lengths[r]
        framed[:] = -1
        framed[0] = base
        for j in range(length):
            framed[j + 1] = codes[r, j]
        framed[length + 1] = base
        at = 0
        for k in orders:
            windows = width + 3 - k
            for w in range(windows):
                key = 0
                valid = True
                for q in range(k):
                    part = framed[w + q]
                    if part < 0:
                        valid = False
                        break
                    key = key * radix + part
                if valid and size > 0:
                    key += k * radix**4
                    found = np.searchsorted(ngrams, key)
                    if found < size and ngrams[found] == key:
                        out[r, at + w] = found
            at += windows
    return out
