"""Does a domain name read as a concatenation of dictionary words, and how plausible is it?

Wordlist DGAs (e.g. ``journeyvalley``, ``brothernerveplacebringconsult``) join random
dictionary words; people join words that go together (``plasticbags``). The word list and
its frequencies are the English unigram and bigram counts of the Google Web Trillion Word
Corpus shipped by the ``wordsegment`` package (not learnt from any labelled data).

Segmentation is the most probable split of a name's letters into words (unigram model,
as ``wordsegment`` does, an unknown piece of k letters having probability
``10 / (T · 10^k)``), computed for all names at once by dynamic programming over an
(n, L) array: every substring is looked up by its integer key (radix
:data:`~trustshield.features.domain.BASE`, exact up to :data:`MAX_WORD` letters) in a
sorted key table. Features per name (:data:`FEATURES`):

``words``        words in the segmentation (known or not)
``word_length``  mean letters per word
``known``        share of letters inside known words of ≥ 3 letters, in [0, 1]
``word_logp``    log10 probability of the segmentation per letter (≤ 0)
``pmi_mean``     mean pointwise mutual information log10 P(a b) / (P(a) P(b)) of adjacent
                 known words (0 for fewer than two; pairs never seen count as
                 :data:`UNSEEN_PMI`)
``pmi_min``      least of those (0 for fewer than two words)
``unseen_pairs`` adjacent word pairs never seen together
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np

from trustshield.features.domain import BASE, Names

MAX_WORD = 12  #: longest dictionary word (keys stay exact in 64 bits up to 12 letters)
VOCABULARY = 60_000  #: most frequent words kept
SLOT_BITS = 18  #: the word table has 2^18 slots (a quarter filled)
_MIX = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing multiplier
CHUNK = 4096  #: names segmented together (rows of similar length)
UNSEEN_PMI = -1.0  #: PMI of a pair of known words the corpus never shows together
FEATURES = ("words", "word_length", "known", "word_logp", "pmi_mean", "pmi_min", "unseen_pairs")
_TOTAL = 1024908267229.0  # words in the corpus (wordsegment's TOTAL)


@dataclass(frozen=True)
class Dictionary:
    """Sorted word keys (m,) uint64 with their log10 probabilities (m,) and ranks (m,);
    bigram pair keys (rank_a · m + rank_b) sorted (p,) with log10 counts (p,)."""

    keys: np.ndarray
    logp: np.ndarray
    rank: np.ndarray
    pair_keys: np.ndarray
    pair_logc: np.ndarray
    unigram_logc: np.ndarray  # (m,) by rank
    slots: np.ndarray  # (2^SLOT_BITS,) uint64 word keys of an open-addressing table, 0 empty
    slot_word: np.ndarray  # (2^SLOT_BITS,) index into keys/logp/rank of the word in a slot

    def find(self, key: np.ndarray) -> np.ndarray:
        """Index into ``keys`` of each key of an array of keys (any shape), -1 where the
        key is no word. Linear probing; only unresolved keys are probed again."""
        mask = np.uint64(len(self.slots) - 1)
        slot = (key * _MIX) >> np.uint64(64 - SLOT_BITS)
        flat_key, flat_slot = key.ravel(), slot.ravel()
        out = np.full(flat_key.shape, -1, dtype=np.int64)
        todo = np.arange(flat_key.size)
        while todo.size:
            held = self.slots[flat_slot[todo]]
            hit = held == flat_key[todo]
            out[todo[hit]] = self.slot_word[flat_slot[todo[hit]]]
            todo = todo[~hit & (held != 0)]
            flat_slot[todo] = (flat_slot[todo] + np.uint64(1)) & mask
        return out.reshape(key.shape)


def word_key(word: str) -> int:
    """A lower-case word's exact key (letters a-z only)."""
    key = 0
    for ch in word:
        key = key * BASE + (ord(ch) - ord("a") + 1)
    return key


def word_text(key: int) -> str:
    """The word of a key (inverse of :func:`word_key`)."""
    letters = []
    while key:
        key, code = divmod(key, BASE)
        letters.append(chr(ord("a") + code - 1))
    return "".join(reversed(letters))


@functools.lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """The :data:`VOCABULARY` most frequent alphabetic words of at most :data:`MAX_WORD`
    letters, and the bigrams between them (read once from the ``wordsegment`` package)."""
    folder = resources.files("wordsegment")
    words: list[str] = []
    counts: list[float] = []
    for line in folder.joinpath("unigrams.txt").read_text().splitlines():
        word, _, count = line.partition("\t")
        if word.isalpha() and word.isascii() and len(word) <= MAX_WORD:
            words.append(word)
            counts.append(float(count))
            if len(words) == VOCABULARY:
                break
    rank_of = {w: i for i, w in enumerate(words)}
    keys = np.fromiter((word_key(w) for w in words), dtype=np.uint64, count=len(words))
    order = np.argsort(keys)
    logc = np.log10(np.asarray(counts))
    pairs: list[int] = []
    pair_counts: list[float] = []
    for line in folder.joinpath("bigrams.txt").read_text().splitlines():
        pair, _, count = line.partition("\t")
        a, _, b = pair.partition(" ")
        if a in rank_of and b in rank_of:
            pairs.append(rank_of[a] * len(words) + rank_of[b])
            pair_counts.append(float(count))
    sorted_keys = keys[order]
    slots = np.zeros(1 << SLOT_BITS, dtype=np.uint64)
    slot_word = np.full(1 << SLOT_BITS, -1, dtype=np.int64)
    for index, key in enumerate(sorted_keys.tolist()):
        slot = ((key * int(_MIX)) % (1 << 64)) >> (64 - SLOT_BITS)
        while slots[slot]:
            slot = (slot + 1) % (1 << SLOT_BITS)
        slots[slot], slot_word[slot] = key, index
    pair_keys = np.asarray(pairs, dtype=np.int64)
    pair_order = np.argsort(pair_keys)
    return Dictionary(
        keys=sorted_keys,
        logp=(logc - math.log10(_TOTAL))[order],
        rank=np.arange(len(words))[order],
        pair_keys=pair_keys[pair_order],
        pair_logc=np.log10(np.asarray(pair_counts))[pair_order],
        unigram_logc=logc,
        slots=slots,
        slot_word=slot_word,
    )


def word_features(names: Names, vocabulary: Dictionary | None = None) -> np.ndarray:
    """The :data:`FEATURES` of every name, float array (n, len(FEATURES)), name by name
    in compiled code (:mod:`.domain_words_kernel`), equal to :func:`word_features_arrays`."""
    from trustshield.features import domain_words_kernel

    vocab = dictionary() if vocabulary is None else vocabulary
    return np.asarray(
        domain_words_kernel.word_features(
            np.ascontiguousarray(names.codes, dtype=np.int64),
            names.lengths.astype(np.int64),
            vocab.slots,
            vocab.slot_word,
            vocab.logp,
            vocab.rank.astype(np.int64, copy=False),
            vocab.pair_keys,
            vocab.pair_logc,
            vocab.unigram_logc,
            MAX_WORD,
            BASE,
            np.uint64(64 - SLOT_BITS),
            _MIX,
            math.log10(_TOTAL),
            UNSEEN_PMI,
        )
    )


def word_features_arrays(names: Names, vocabulary: Dictionary | None = None) -> np.ndarray:
    """:func:`word_features` as array operations over all names at once. Names are
    taken in chunks of similar letter count, so short names do not pay for long ones."""
    vocab = dictionary() if vocabulary is None else vocabulary
    letters, lengths = _letters_only(names.codes)
    out = np.zeros((len(lengths), len(FEATURES)))
    order = np.argsort(lengths, kind="stable")
    for chunk in np.array_split(order, max(1, len(order) // CHUNK)):
        if len(chunk):
            width = max(int(lengths[chunk].max()), 1)
            block = np.ascontiguousarray(letters[chunk, :width].T)
            out[chunk] = _chunk_features(block, lengths[chunk], vocab)
    return out


def _chunk_features(letters: np.ndarray, lengths: np.ndarray, vocab: Dictionary) -> np.ndarray:
    """:func:`word_features` of names laid out as letters (L, n) with letter counts (n,)."""
    best, back, ranks = _viterbi_chunk(letters, vocab)
    n = len(lengths)
    rows = np.arange(n)
    pos = lengths.copy()
    n_words, known_letters = np.zeros(n), np.zeros(n)
    pmi_sum, pmi_min, n_pairs, unseen = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    next_rank = np.full(n, -1)
    m = len(vocab.keys)
    total = math.log10(_TOTAL)
    while (pos > 0).any():
        live = pos > 0
        k = np.where(live, back[pos, rows], 0)
        rank = np.where(live, ranks[pos, rows], -1)
        n_words += live
        known_letters += np.where(live & (rank >= 0) & (k >= 3), k, 0)
        pair = live & (rank >= 0) & (next_rank >= 0)
        if pair.any():
            pmi = _pmi(rank[pair] * m + next_rank[pair], rank[pair], next_rank[pair], vocab, total)
            pmi_min[pair] = np.where(n_pairs[pair] > 0, np.minimum(pmi_min[pair], pmi), pmi)
            pmi_sum[pair] += pmi
            n_pairs[pair] += 1
            unseen[pair] += pmi == UNSEEN_PMI
        next_rank = np.where(live, rank, next_rank)
        pos = pos - k
    safe = np.maximum(lengths, 1)
    return np.column_stack(
        [
            n_words,
            lengths / np.maximum(n_words, 1),
            known_letters / safe,
            np.where(lengths > 0, best[lengths, rows] / safe, 0.0),
            pmi_sum / np.maximum(n_pairs, 1),
            pmi_min,
            unseen,
        ]
    )


def _letters_only(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's letters (codes 1-26) moved to the front, the rest 0; and their count."""
    letter = (codes >= 1) & (codes <= 26)
    order = np.argsort(~letter, axis=1, kind="stable")
    moved = np.take_along_axis(np.where(letter, codes, 0), order, axis=1)
    return moved.astype(np.int64), letter.sum(axis=1)


def _viterbi_chunk(
    letters: np.ndarray, vocab: Dictionary
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_viterbi` on letters laid out (L, rows); results (L+1, rows)."""
    width, n = letters.shape
    kmax = min(MAX_WORD, width)
    # score[k-1, start]: log10 P of the word letters[start : start + k]; rank likewise
    score = np.full((kmax, width, n), -np.inf)
    rank = np.full((kmax, width, n), -1, dtype=np.int64)
    key = np.zeros((width, n), dtype=np.uint64)
    wide = letters.astype(np.uint64)
    for k in range(1, kmax + 1):
        shifted = np.zeros((width, n), dtype=np.uint64)
        shifted[: width - k + 1] = wide[k - 1 :]
        key = key * np.uint64(BASE) + shifted
        found = vocab.find(key)
        hit = found >= 0
        score[k - 1] = np.where(hit, vocab.logp[found], 1.0 - math.log10(_TOTAL) - k)
        rank[k - 1] = np.where(hit, vocab.rank[found], -1)
    best = np.full((width + 1, n), -np.inf)
    best[0] = 0.0
    back = np.ones((width + 1, n), dtype=np.int64)
    ranks = np.full((width + 1, n), -1, dtype=np.int64)
    columns = np.arange(n)
    for end in range(1, width + 1):
        ks = np.arange(1, min(kmax, end) + 1)
        cand = best[end - ks] + score[ks - 1, end - ks]  # (k, n)
        pick = np.argmax(cand, axis=0)
        best[end] = cand[pick, columns]
        back[end] = ks[pick]
        ranks[end] = rank[pick, end - ks[pick], columns]
    return best, back, ranks


def _pmi(
    pair_keys: np.ndarray, a: np.ndarray, b: np.ndarray, vocab: Dictionary, total: float
) -> np.ndarray:
    """log10 P(a b) / (P(a) P(b)) of word-rank pairs; :data:`UNSEEN_PMI` for unseen pairs."""
    found = np.minimum(np.searchsorted(vocab.pair_keys, pair_keys), len(vocab.pair_keys) - 1)
    seen = vocab.pair_keys[found] == pair_keys
    pmi = vocab.pair_logc[found] + total - vocab.unigram_logc[a] - vocab.unigram_logc[b]
    return np.where(seen, pmi, UNSEEN_PMI)
