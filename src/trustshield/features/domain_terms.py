"""Domain names as sets of binary terms, for a linear model whose explanation is exact.

A name's terms are its character 1- to 4-grams (boundary-marked, from
:func:`trustshield.features.domain.ngram_keys`), one quantile bin per engineered and word
feature (:data:`DENSE_FEATURES`), and its top-level domain. A :class:`TermSpace` (learnt
from training names) numbers the terms; :func:`encode` gives every name's term numbers
as an (n, T) matrix (-1 = no term at that slot), so that a linear score is a gather and
a row sum, and each slot's weight is an exact part of the score. Slots are laid out as
the n-gram windows of n = 1..4 (in name order), then one slot per dense feature, then the
TLD; :func:`slot_spans` says which name characters each slot covers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustshield.features import domain, domain_words
from trustshield.features.domain import Names

ORDERS = (1, 2, 3, 4)  #: character n-gram lengths
DENSE_FEATURES = domain.FEATURES + domain_words.FEATURES
N_BINS = 16  #: quantile bins per dense feature (fewer when values repeat)


@dataclass(frozen=True)
class TermSpace:
    """Term numbering: ``ngrams`` sorted n-gram keys (numbers 0..V-1), ``edges`` the bin
    edges of each dense feature (bins numbered after the n-grams, feature by feature),
    ``tlds`` the known TLDs (numbered last)."""

    ngrams: np.ndarray
    edges: tuple[np.ndarray, ...]
    tlds: tuple[str, ...]

    @property
    def bin_offsets(self) -> np.ndarray:
        """First term number of each dense feature's bins, shape (len(DENSE_FEATURES),)."""
        sizes = np.array([len(e) + 1 for e in self.edges])
        return len(self.ngrams) + np.concatenate([[0], np.cumsum(sizes)[:-1]])

    @property
    def tld_offset(self) -> int:
        return len(self.ngrams) + sum(len(e) + 1 for e in self.edges)

    @property
    def size(self) -> int:
        """Number of terms."""
        return self.tld_offset + len(self.tlds)

    def names(self) -> list[str]:
        """A readable name per term number: ``"abc"`` n-grams (``^``/``$`` mark the name's
        start and end), ``"length in [12, 14)"`` bins, ``"tld .com"``."""
        out = [_ngram_text(int(k)) for k in self.ngrams]
        for feature, edges in zip(DENSE_FEATURES, self.edges):
            bounds = [-np.inf, *edges.tolist(), np.inf]
            out += [
                f"{feature} in [{_num(lo)}, {_num(hi)})" for lo, hi in zip(bounds[:-1], bounds[1:])
            ]
        return out + [f"tld .{t}" for t in self.tlds]


def dense(names: Names) -> np.ndarray:
    """Engineered and word features of every name, (n, len(DENSE_FEATURES))."""
    return np.column_stack([domain.engineered(names), domain_words.word_features(names)])


def ngram_slots(names: Names) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All n-gram windows of every name: keys (n, P) (-1 = none), window start (P,) and
    length (P,) in name characters (start -1: the window holds the opening mark)."""
    keys, starts, sizes = [], [], []
    for order in ORDERS:
        k, s = domain.ngram_keys(names, order)
        keys.append(k)
        starts.append(s)
        sizes.append(np.full(len(s), order))
    return np.hstack(keys), np.concatenate(starts), np.concatenate(sizes)


def learn_space(names: Names, values: np.ndarray, min_count: int = 2) -> TermSpace:
    """Terms seen in training names: n-grams in at least ``min_count`` names, quantile
    bin edges of each dense feature (values (n, len(DENSE_FEATURES))), TLDs of at least
    ``min_count`` names."""
    keys, _, _ = ngram_slots(names)
    per_name = [np.unique(row[row >= 0]) for row in keys]
    found, counts = np.unique(np.concatenate(per_name), return_counts=True)
    qs = np.linspace(0, 1, N_BINS + 1)[1:-1]
    edges = tuple(np.unique(np.quantile(values[:, j], qs)) for j in range(values.shape[1]))
    tlds, tld_counts = np.unique(np.asarray(names.tlds, dtype=object), return_counts=True)
    return TermSpace(
        ngrams=found[counts >= min_count].astype(np.int64),
        edges=edges,
        tlds=tuple(str(t) for t in tlds[tld_counts >= min_count]),
    )


def encode(space: TermSpace, names: Names, values: np.ndarray) -> np.ndarray:
    """Term numbers (n, T) of every name's slots (-1: no term, e.g. an unseen n-gram or
    TLD, or a window past the name's end); values are the names' dense features. The
    n-gram slots are looked up in compiled code (:mod:`.domain_terms_kernel`), equal to
    :func:`ngram_ids_arrays`."""
    from trustshield.features import domain_terms_kernel

    ngram_ids = domain_terms_kernel.ngram_ids(
        np.ascontiguousarray(names.codes, dtype=np.int64),
        names.lengths.astype(np.int64),
        np.asarray(ORDERS, dtype=np.int64),
        space.ngrams,
        domain.BASE,
    )
    bins = np.column_stack(
        [np.searchsorted(e, values[:, j], side="right") for j, e in enumerate(space.edges)]
    )
    bin_ids = bins + space.bin_offsets[None, :]
    offset = space.tld_offset
    index = {t: i for i, t in enumerate(space.tlds)}
    tld_ids = np.fromiter(
        (offset + index[t] if t in index else -1 for t in names.tlds),
        dtype=np.int64,
        count=len(names),
    )
    return np.hstack([ngram_ids, bin_ids, tld_ids[:, None]])


def ngram_ids_arrays(space: TermSpace, names: Names) -> np.ndarray:
    """The n-gram slots' term numbers (n, P) of :func:`encode`, as array operations."""
    keys, _, _ = ngram_slots(names)
    found = np.minimum(np.searchsorted(space.ngrams, keys), max(len(space.ngrams) - 1, 0))
    known = (keys >= 0) & (space.ngrams[found] == keys) if len(space.ngrams) else keys < -1
    return np.where(known, found, -1)


def slot_spans(names: Names) -> tuple[np.ndarray, np.ndarray]:
    """First and last+1 name character each slot of :func:`encode` covers, shapes
    (n, T) each: an n-gram window its characters (boundary marks left out); a dense
    feature, the TLD, or a window holding a boundary mark only, the whole name."""
    _, starts, sizes = ngram_slots(names)
    n = len(names)
    lo = np.broadcast_to(np.maximum(starts, 0), (n, len(starts)))
    hi = np.minimum(starts[None, :] + sizes[None, :], names.lengths[:, None])
    empty = hi <= lo
    lo = np.where(empty, 0, lo)
    hi = np.where(empty, names.lengths[:, None], hi)
    whole = np.zeros((n, len(DENSE_FEATURES) + 1), dtype=np.int64)
    return (
        np.hstack([lo, whole]),
        np.hstack([hi, np.broadcast_to(names.lengths[:, None], whole.shape)]),
    )


def _ngram_text(key: int) -> str:
    radix = domain.BASE + 1
    order, rest = divmod(key, radix**4)
    chars: list[str] = []
    for _ in range(order):
        rest, code = divmod(rest, radix)
        chars.append("^$"[len(chars) == 0] if code == domain.BASE else _char(code))
    return "".join(reversed(chars))


def _char(code: int) -> str:
    return domain.ALPHABET[code - 1] if 1 <= code <= len(domain.ALPHABET) else "?"


def _num(value: float) -> str:
    return "inf" if value == np.inf else "-inf" if value == -np.inf else f"{value:.3g}"
