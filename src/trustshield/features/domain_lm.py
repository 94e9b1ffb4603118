"""Character trigram language models of domain names: how likely is each character after
the two before it?

A :class:`CharModel` holds trigram, bigram and unigram counts (dense arrays indexed by
character codes, :data:`~trustshield.features.domain.BASE` + 1 symbols with the boundary
mark) and scores a character by interpolated absolute-discounting-free backoff:
``P(c | a b) = (n(abc) + K·P(c | b)) / (n(ab) + K)``, ``P(c | b)`` likewise over unigram
``P(c) = (n(c) + 1) / (N + V)``. Per-character surprisal ``-log10 P`` is the
attribution-friendly output: it is non-negative and belongs to one character.

Two models are used: one learnt from legitimate training names (how much a name looks
like the names a site normally sees) and one from the English word list of
:mod:`trustshield.features.domain_words` (how pronounceable it is), each word counted once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from trustshield.features.domain import BASE, Names

V = BASE + 1  #: symbols: padding 0 is unused, codes 1..BASE-1, boundary BASE
K = 2.0  #: backoff weight (pseudo-count) of the lower order
FEATURES = ("surprisal_mean", "surprisal_max")


@dataclass(frozen=True)
class CharModel:
    """Counts: ``tri`` (V³,), ``bi`` (V²,), ``uni`` (V,) as float arrays."""

    tri: np.ndarray
    bi: np.ndarray
    uni: np.ndarray

    def to_state(self) -> dict[str, list[int]]:
        """Plain JSON: the non-zero counts as flat index and count lists."""
        out: dict[str, list[int]] = {}
        for name in ("tri", "bi", "uni"):
            counts = getattr(self, name)
            at = np.flatnonzero(counts)
            out[f"{name}_at"], out[f"{name}_n"] = at.tolist(), counts[at].astype(int).tolist()
        return out

    @classmethod
    def from_state(cls, state: dict[str, list[int]]) -> CharModel:
        arrays = {}
        for name, size in (("tri", V**3), ("bi", V**2), ("uni", V)):
            counts = np.zeros(size)
            counts[np.asarray(state[f"{name}_at"], dtype=np.int64)] = state[f"{name}_n"]
            arrays[name] = counts
        return cls(**arrays)


def _framed(names: Names) -> tuple[np.ndarray, np.ndarray]:
    """Codes (n, L+2) with two leading boundary marks and one after the end (0 past it),
    and a mask (n, L+1) of the predicted positions (every character and the end mark)."""
    n, width = names.codes.shape
    framed = np.zeros((n, width + 3), dtype=np.int64)
    framed[:, :2] = BASE
    framed[:, 2 : width + 2] = names.codes
    framed[np.arange(n), names.lengths + 2] = BASE
    predicted = np.arange(width + 1)[None, :] <= names.lengths[:, None]
    return framed, predicted


def learn(names: Names, weights: np.ndarray | None = None) -> CharModel:
    """Counts of every name's trigrams (each name counted ``weights[i]`` times, default 1)."""
    framed, predicted = _framed(names)
    a, b, c = framed[:, :-2], framed[:, 1:-1], framed[:, 2:]
    w = np.ones(len(names)) if weights is None else np.asarray(weights, dtype=float)
    w = np.broadcast_to(w[:, None], predicted.shape)[predicted]
    a, b, c = a[predicted], b[predicted], c[predicted]
    return CharModel(
        tri=np.bincount((a * V + b) * V + c, weights=w, minlength=V**3),
        bi=np.bincount(b * V + c, weights=w, minlength=V**2),
        uni=np.bincount(c, weights=w, minlength=V),
    )


def surprisal(model: CharModel, names: Names) -> np.ndarray:
    """-log10 P of each character of each name and of its end mark, (n, L+1); 0 past
    the end mark."""
    framed, predicted = _framed(names)
    a, b, c = framed[:, :-2], framed[:, 1:-1], framed[:, 2:]
    ctx_bi = model.bi.reshape(V, V).sum(axis=1)
    ctx_tri = model.tri.reshape(V * V, V).sum(axis=1)
    p1 = (model.uni[c] + 1.0) / (model.uni.sum() + V)
    p2 = (model.bi[b * V + c] + K * p1) / (ctx_bi[b] + K)
    p3 = (model.tri[(a * V + b) * V + c] + K * p2) / (ctx_tri[a * V + b] + K)
    return np.where(predicted, -np.log10(p3), 0.0)


def summary(per_char: np.ndarray, names: Names) -> np.ndarray:
    """:data:`FEATURES` from per-character surprisal (n, L+1): mean over the name's
    characters and end mark, and the largest."""
    return np.column_stack([per_char.sum(axis=1) / (names.lengths + 1), per_char.max(axis=1)])


def sample(model: CharModel, lengths: np.ndarray, seed: int) -> list[str]:
    """Names of the given letter counts (m,) drawn from the model's letter probabilities
    (pronounceable pseudo-words; the end mark and non-letters are never drawn)."""
    rng = np.random.default_rng(seed)
    m = len(lengths)
    a = np.full(m, BASE)
    b = np.full(m, BASE)
    letters = np.arange(1, 27)
    ctx_bi = model.bi.reshape(V, V).sum(axis=1)
    ctx_tri = model.tri.reshape(V * V, V).sum(axis=1)
    p1 = (model.uni[letters] + 1.0) / (model.uni.sum() + V)
    out = np.zeros((m, int(lengths.max()) if m else 0), dtype=np.int64)
    for pos in range(out.shape[1]):
        p2 = (model.bi.reshape(V, V)[b][:, letters] + K * p1) / (ctx_bi[b] + K)[:, None]
        tri = model.tri.reshape(V * V, V)[a * V + b][:, letters]
        p3 = (tri + K * p2) / (ctx_tri[a * V + b] + K)[:, None]
        cdf = np.cumsum(p3, axis=1)
        draw = (rng.random(m) * cdf[:, -1])[:, None]
        c = letters[np.minimum((cdf < draw).sum(axis=1), len(letters) - 1)]
        out[:, pos] = c
        a, b = b, c
    return ["".join(chr(ord("a") + int(c) - 1) for c in row[:n]) for row, n in zip(out, lengths)]


@functools.lru_cache(maxsize=1)
def english() -> CharModel:
    """The trigram model of the English word list (each word once)."""
    from trustshield.features import domain, domain_words

    vocab = domain_words.dictionary()
    words = [domain_words.word_text(int(k)) for k in vocab.keys]
    return learn(domain.parse([w + ".x" for w in words]))
