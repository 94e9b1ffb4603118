"""Compiled loops of :mod:`trustshield.detectors.forest` (numba; imported on first use,
compiled once per process and cached on disk when the package folder is writable).

Node decisions are LightGBM's ``Tree::NumericalDecision`` / ``CategoricalDecision``:
numerical ``value <= threshold`` (a NaN is 0 unless the node's missing rule is NaN; a
missing value under a Zero or NaN rule takes the default direction); categorical: left
when the category's bit is set, right for NaN, a negative value or a category past the
bitset."""

from __future__ import annotations

# mypy: disable-error-code="no-untyped-def"

import math

import numba
import numpy as np

_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_ZERO, _MISSING_NAN = 1, 2
_ZERO = 1e-35


@numba.njit(cache=True, nogil=True, inline="always")
def _goes_left(value, threshold, dtype, cat_start, cat_len, cat_bits):  # pragma: no cover
    """One node's decision for one value: True = left child."""
    if dtype & _CATEGORICAL:
        if math.isnan(value):
            return False
        category = int(value)
        if category < 0:
            return False
        word = category // 32
        if word >= cat_len:
            return False
        return (cat_bits[cat_start + word] >> np.uint32(category % 32)) & np.uint32(1) == 1
    missing = (dtype >> 2) & 3
    if math.isnan(value) and missing != _MISSING_NAN:
        value = 0.0
    if (missing == _MISSING_ZERO and abs(value) <= _ZERO) or (
        missing == _MISSING_NAN and math.isnan(value)
    ):
        return (dtype & _DEFAULT_LEFT) != 0
    return value <= threshold


@numba.njit(cache=True, nogil=True)
def decision_codes(
    columns, feature, threshold, dtype, cat_start, cat_len, cat_bits, internal
):  # pragma: no cover
    """Bit i of codes[t, r] = row r goes left at internal node i of tree t; columns is
    the feature matrix transposed, (F, n); codes (trees, n)."""
    n = columns.shape[1]
    codes = np.zeros((len(internal), n), dtype=np.int64)
    zeroed = np.where(np.isnan(columns), 0.0, columns)  # a NaN is 0 without a missing rule
    for t in range(len(internal)):
        out = codes[t]
        for i in range(internal[t]):
            dt = dtype[t, i]
            thr = threshold[t, i]
            if dt == _DEFAULT_LEFT:  # numerical, no missing rule: the common case
                col = zeroed[feature[t, i]]
                for r in range(n):  # branch-free, so the loop vectorises
                    out[r] |= np.int64(col[r] <= thr) << i
            else:
                col = columns[feature[t, i]]
                bit = np.int64(1) << i
                for r in range(n):
                    if _goes_left(col[r], thr, dt, cat_start[t, i], cat_len[t, i], cat_bits):
                        out[r] |= bit
    return codes


@numba.njit(cache=True, nogil=True)
def leaf_sums(codes, left, right, leaf, internal, classes):  # pragma: no cover
    """Leaf values reached by decision codes (trees, n), summed over the trees in tree
    order, (n, classes); tree t adds to class t % classes."""
    n = codes.shape[1]
    out = np.zeros((n, classes))
    for t in range(len(internal)):  # tree by tree (each row still sums in tree order)
        c = t % classes
        for r in range(n):
            node = 0
            if internal[t] > 0:
                code = codes[t, r]
                while node >= 0:
                    node = left[t, node] if (code >> node) & 1 else right[t, node]
                node = ~node
            out[r, c] += leaf[t, node]
    return out


@numba.njit(cache=True, nogil=True)
def lookup_sum(table, index, codes, used):  # pragma: no cover
    """out[r] = Σ_t table[index[t, codes[t, r]]] (tree order), (n, table columns), and
    the number of (tree, row) whose code has no entry yet (index -1; those add nothing).
    Only the columns ``used[t]`` lists (tree t's split features and the base column; -1
    pads) are added: TreeSHAP gives a tree's other features exactly 0."""
    trees, n = codes.shape
    width = table.shape[1]
    missing = 0
    out = np.zeros((n, width))
    for t in range(trees):  # tree by tree: its index and entries stay in cache
        where = index[t]
        for r in range(n):
            row = where[codes[t, r]]
            if row < 0:
                missing += 1
                continue
            for j in used[t]:
                if j < 0:
                    break
                out[r, j] += table[row, j]
    return out, missing


_EMPTY = -1


@numba.njit(cache=True, nogil=True, inline="always")
def _slot(key_tree, key_code, tree, code):  # pragma: no cover
    """The slot of (tree, code) in an open-addressing table of power-of-two size: where
    it is, or the empty slot (key_tree -1) where it would go (linear probing)."""
    mask = len(key_tree) - 1
    h = np.uint64(code) * np.uint64(0x9E3779B97F4A7C15)
    h ^= np.uint64(tree + 1) * np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(31)
    s = np.int64(h & np.uint64(mask))
    while key_tree[s] != _EMPTY and (key_tree[s] != tree or key_code[s] != code):
        s = (s + 1) & mask
    return s


@numba.njit(cache=True, nogil=True)
def hashed_ids(key_tree, key_code, entry, codes):  # pragma: no cover
    """Table entry of every (tree, code) of ``codes`` (trees, n), -1 where none yet."""
    trees, n = codes.shape
    ids = np.empty((trees, n), dtype=np.int32)
    for t in range(trees):
        for r in range(n):
            ids[t, r] = entry[_slot(key_tree, key_code, t, codes[t, r])]
    return ids


@numba.njit(cache=True, nogil=True)
def hashed_insert(key_tree, key_code, entry, tree, codes, ids):  # pragma: no cover
    """Remember entry ``ids[i]`` for (tree, codes[i])."""
    for i in range(len(codes)):
        s = _slot(key_tree, key_code, tree, codes[i])
        key_tree[s] = tree
        key_code[s] = codes[i]
        entry[s] = ids[i]


@numba.njit(cache=True, nogil=True)
def sum_entries(table, ids, used):  # pragma: no cover
    """out[r] = Σ_t table[ids[t, r]] (tree order) over the columns ``used[t]``, (n, table
    columns), and how many (tree, row) have no entry (id -1; they add nothing). The loop
    repeats :func:`lookup_sum`'s: sharing it through an inlined helper cost the dense path
    about 8 % (domain names explained per CPU second, 3 runs each)."""
    trees, n = ids.shape
    missing = 0
    out = np.zeros((n, table.shape[1]))
    for t in range(trees):
        for r in range(n):
            row = ids[t, r]
            if row < 0:
                missing += 1
                continue
            for j in used[t]:
                if j < 0:
                    break
                out[r, j] += table[row, j]
    return out, missing
