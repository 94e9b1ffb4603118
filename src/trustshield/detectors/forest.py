"""A LightGBM booster's trees as arrays, for fast raw scores and memoised exact TreeSHAP.

:class:`Forest` reads a booster's model text (``model_to_string``) once: per tree, every
internal node's feature, threshold, decision type (numerical ``<=`` or categorical
bitset, missing-value rule, default direction) and children, and every leaf's value. It
decides nodes exactly as LightGBM's ``Tree::Decision`` does (a NaN or negative
category goes right; a NaN numerical value follows the missing rule), in compiled code
(numba, loaded on first use).

Raw scores are the leaf values summed tree by tree, as LightGBM sums them.

TreeSHAP (path-dependent, LightGBM's ``pred_contrib``) of one tree depends only on which
way the row goes at each of the tree's internal nodes: the recursion visits every node
and only asks which child is "hot". So a tree's contributions are a function of a
decision code (bit i = the row goes left at internal node i). :meth:`Forest.contributions`
computes every row's code for every tree, looks each (tree, code) up in a table, asks
LightGBM (``pred_contrib`` of that one tree, on one row with that code) for the entries
it has not seen, and sums the looked-up rows over the trees. The values are LightGBM's
own; only the order of additions across trees may differ (float rounding, ~1e-15).
The table keeps at most :data:`MAX_ENTRIES` entries (it starts over when full). Trees of
up to :data:`DENSE_CODE_BITS` internal nodes find entries by code in a dense array per
tree; larger ones (up to :data:`MAX_CODE_BITS`) in one hash table of (tree, code).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

DENSE_CODE_BITS = 16  #: trees with at most this many internal nodes: a dense index
MAX_CODE_BITS = 62  #: trees with more internal nodes are explained by LightGBM directly
MAX_ENTRIES = 400_000  #: (tree, code) entries kept before the table starts over
_CATEGORICAL = 1


@dataclass(frozen=True)
class Trees:
    """Trees as padded arrays, t trees × m internal nodes / leaves at most:
    ``feature``, ``threshold``, ``dtype`` (LightGBM decision type), ``left``, ``right``
    (t, m) (a child ≥ 0 is an internal node, < 0 is leaf ~child), ``cat_start``,
    ``cat_len`` (t, m) into ``cat_bits`` (uint32 bitset words), ``leaf`` (t, m+1) leaf
    values, ``internal`` (t,) internal nodes per tree, ``n_features``, ``n_classes``."""

    feature: np.ndarray
    threshold: np.ndarray
    dtype: np.ndarray
    left: np.ndarray
    right: np.ndarray
    cat_start: np.ndarray
    cat_len: np.ndarray
    cat_bits: np.ndarray
    leaf: np.ndarray
    internal: np.ndarray
    n_features: int
    n_classes: int


def parse_model(text: str) -> Trees:
    """:class:`Trees` from LightGBM model text."""
    header, _, body = text.partition("\nTree=")
    head = _fields(header)
    blocks = [b for b in ("Tree=" + body).split("\nTree=") if b.strip()]
    trees = []
    for block in blocks:
        block = block.split("\nend of trees")[0]
        f = _fields(block)
        if "num_leaves" not in f:
            continue
        trees.append(f)
    m = max(max(int(t["num_leaves"]) - 1 for t in trees), 1)
    t_n = len(trees)
    feature = np.zeros((t_n, m), np.int64)
    threshold = np.zeros((t_n, m))
    dtype = np.zeros((t_n, m), np.int64)
    left = np.full((t_n, m), -1, np.int64)
    right = np.full((t_n, m), -1, np.int64)
    cat_start = np.zeros((t_n, m), np.int64)
    cat_len = np.zeros((t_n, m), np.int64)
    leaf = np.zeros((t_n, m + 1))
    internal = np.zeros(t_n, np.int64)
    bits: list[int] = []
    for i, f in enumerate(trees):
        leaves = int(f["num_leaves"])
        leaf[i, :leaves] = _numbers(f["leaf_value"], float)
        k = leaves - 1
        internal[i] = k
        if k == 0:
            continue
        feature[i, :k] = _numbers(f["split_feature"], int)
        threshold[i, :k] = _numbers(f["threshold"], float)
        dtype[i, :k] = _numbers(f["decision_type"], int)
        left[i, :k] = _numbers(f["left_child"], int)
        right[i, :k] = _numbers(f["right_child"], int)
        if int(f.get("num_cat", "0")) > 0:
            bounds = _numbers(f["cat_boundaries"], int)
            words = _numbers(f["cat_threshold"], int)
            for node in np.flatnonzero(dtype[i, :k] & _CATEGORICAL):
                c = int(threshold[i, node])
                cat_start[i, node] = len(bits) + bounds[c]
                cat_len[i, node] = bounds[c + 1] - bounds[c]
            bits.extend(words)
    n_classes = int(head.get("num_class", "1"))
    return Trees(
        feature,
        threshold,
        dtype,
        left,
        right,
        cat_start,
        cat_len,
        np.asarray(bits, dtype=np.uint32),
        leaf,
        internal,
        int(head["max_feature_idx"]) + 1,
        n_classes,
    )


def _fields(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, eq, value = line.partition("=")
        if eq:
            out[key.strip()] = value.strip()
    return out


def _numbers(text: str, kind: type) -> list[Any]:
    return [kind(v) for v in text.split()]


class Forest:
    """A booster's raw scores and TreeSHAP, see the module docstring. ``booster`` is the
    ``lightgbm.Booster`` (asked for table entries not seen yet)."""

    def __init__(self, booster: Any):
        self.booster = booster
        self.trees = parse_model(booster.model_to_string())
        t = self.trees
        bits = int(t.internal.max())
        self._memo = bits <= MAX_CODE_BITS and t.n_classes == 1
        self._hashed = self._memo and bits > DENSE_CODE_BITS
        self._used_columns = _used_columns(t)
        self._lock = threading.Lock()  # the tables grow under it
        self._reset()

    def _reset(self, entries: int = 0) -> None:
        """An empty table, its hash sized for ``entries`` beyond :data:`MAX_ENTRIES`."""
        t = self.trees
        if self._hashed:  # open addressing, at most half full
            slots = 1 << (2 * max(MAX_ENTRIES, entries) - 1).bit_length()
            self._key_tree = np.full(slots, -1, dtype=np.int32)
            self._key_code = np.zeros(slots, dtype=np.int64)
            self._entry = np.full(slots, -1, dtype=np.int32)
        else:
            bits = int(t.internal.max()) if self._memo else 0
            self._index = np.full((len(t.internal), 1 << bits), -1, dtype=np.int32)
        self._table = np.zeros((1024, t.n_features + 1))
        self._used = 0

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Raw scores (n,) of a single-output booster, or (n, classes) of a multiclass one
        (tree i adds to class i mod classes)."""
        from trustshield.detectors import forest_kernels as k

        t = self.trees
        codes = self._codes(_columns(X, t.n_features))
        out = np.asarray(k.leaf_sums(codes, t.left, t.right, t.leaf, t.internal, t.n_classes))
        return out[:, 0] if t.n_classes == 1 else out

    def _codes(self, columns: np.ndarray) -> np.ndarray:
        from trustshield.detectors import forest_kernels as k

        t = self.trees
        return np.asarray(
            k.decision_codes(
                columns,
                t.feature,
                t.threshold,
                t.dtype,
                t.cat_start,
                t.cat_len,
                t.cat_bits,
                t.internal,
            )
        )

    def contributions(self, X: np.ndarray) -> np.ndarray:
        """TreeSHAP (n, F+1) as LightGBM's ``pred_contrib`` gives it, the last column the
        base value; rows sum to the raw score."""
        if not self._memo:
            return np.asarray(self.booster.predict(X, pred_contrib=True, num_threads=1))

        columns = _columns(X, self.trees.n_features)
        with self._lock:
            codes = self._codes(columns)
            out, missing = self._lookup(codes)
            if missing:
                self._learn(columns, codes, missing)
                out, missing = self._lookup(codes)
            return np.asarray(out)

    def _lookup(self, codes: np.ndarray) -> tuple[np.ndarray, int]:
        from trustshield.detectors import forest_kernels as k

        if self._hashed:
            return k.sum_entries(self._table, self._ids(codes), self._used_columns)  # type: ignore[no-any-return]
        return k.lookup_sum(self._table, self._index, codes, self._used_columns)  # type: ignore[no-any-return]

    def _ids(self, codes: np.ndarray) -> np.ndarray:
        """Table entry per (tree, row) of ``codes`` (trees, n), -1 where none yet."""
        from trustshield.detectors import forest_kernels as k

        if self._hashed:
            return np.asarray(k.hashed_ids(self._key_tree, self._key_code, self._entry, codes))
        return np.take_along_axis(self._index, codes, axis=1)

    def _remember(self, tree: int, codes: np.ndarray, ids: np.ndarray) -> None:
        from trustshield.detectors import forest_kernels as k

        if self._hashed:
            k.hashed_insert(self._key_tree, self._key_code, self._entry, tree, codes, ids)
        else:
            self._index[tree, codes] = ids

    def _learn(self, columns: np.ndarray, codes: np.ndarray, missing: int) -> None:
        """Table entries for every (tree, code) of ``codes`` (trees, n) not seen yet
        (``missing`` of them at most)."""
        if self._used + missing > MAX_ENTRIES:
            self._reset(missing)
        ids = self._ids(codes)
        for tree in np.flatnonzero((ids < 0).any(axis=1)).tolist():
            unseen = np.flatnonzero(ids[tree] < 0)
            found, first = np.unique(codes[tree, unseen], return_index=True)
            sample = np.ascontiguousarray(columns[:, unseen[first]].T)
            phi = np.asarray(
                self.booster.predict(
                    sample, pred_contrib=True, start_iteration=tree, num_iteration=1, num_threads=1
                )
            )
            start = self._grow(len(found))
            self._table[start : start + len(found)] = phi
            self._remember(tree, found, np.arange(start, start + len(found), dtype=np.int32))

    def _grow(self, count: int) -> int:
        start = self._used
        if start + count > len(self._table):
            size = max(2 * len(self._table), start + count)
            table = np.zeros((size, self._table.shape[1]))
            table[:start] = self._table[:start]
            self._table = table
        self._used += count
        return start


def cached_forest(owner: Any, name: str, booster: Any) -> Forest:
    """The :class:`Forest` of ``booster`` kept on ``owner`` as attribute ``name``, built
    again only when the booster changed (a refit or load)."""
    forest: Forest | None = getattr(owner, name, None)
    if forest is None or forest.booster is not booster:
        forest = Forest(booster)
        setattr(owner, name, forest)
    return forest


def _used_columns(t: Trees) -> np.ndarray:
    """Each tree's split features and the base column (index n_features), (trees, U),
    padded with -1: the only columns its TreeSHAP values can be non-zero in."""
    used = [
        [*sorted(set(t.feature[i, : t.internal[i]].tolist())), t.n_features]
        for i in range(len(t.internal))
    ]
    out = np.full((len(used), max(len(u) for u in used)), -1, dtype=np.int64)
    for i, u in enumerate(used):
        out[i, : len(u)] = u
    return out


def _columns(X: np.ndarray, n_features: int) -> np.ndarray:
    """The (n, F) feature matrix as float64 columns (F, n), contiguous."""
    rows = np.asarray(X, dtype=np.float64)
    if rows.ndim != 2 or rows.shape[1] != n_features:
        raise ValueError(f"expected a (n, {n_features}) matrix, got shape {rows.shape}")
    return np.ascontiguousarray(rows.T)
