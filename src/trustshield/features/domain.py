"""Domain names as arrays: the name label, its characters as codes, and engineered features.

A domain such as ``shop.example.co.uk`` is split into labels; its *name* is the longest
label left of the last one (``example``), its *tld* the last label (``uk``). Every
function here is pure and vectorised over n domains: characters become small integer codes
in an (n, L) matrix (0 = padding), so that features, character n-grams and word
segmentation (:mod:`trustshield.features.domain_words`) are NumPy operations, not Python
loops over characters.

Engineered features (:data:`FEATURES`, one value per domain, all finite):

``length``      characters in the name
``labels``      labels in the whole domain (``a.b.com`` → 3)
``digits``      share of the name's characters that are digits, in [0, 1]
``hyphens``     hyphens in the name
``vowels``      share of the name's letters that are vowels, in [0, 1]
``consonants``  longest run of consonants in the name
``entropy``     Shannon entropy of the name's characters, bits
``distinct``    distinct characters / length, in (0, 1]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustshield.errors import DataError

#: the characters a name is coded with: 1-26 letters, 27-36 digits, 37 hyphen, 38 other
ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-"
OTHER = len(ALPHABET) + 1
BASE = OTHER + 1  #: radix of character n-gram and word keys (codes are 1..OTHER)
MAX_NAME = 63  #: longest DNS label (RFC 1035); longer names are cut there
MAX_DOMAIN = 253  #: longest domain name (RFC 1035)
FEATURES = (
    "length",
    "labels",
    "digits",
    "hyphens",
    "vowels",
    "consonants",
    "entropy",
    "distinct",
)
_CODE = np.full(128, OTHER, dtype=np.uint8)
_CODE[[ord(c) for c in ALPHABET]] = np.arange(1, len(ALPHABET) + 1, dtype=np.uint8)
_VOWEL = np.zeros(BASE, dtype=bool)
_VOWEL[[ALPHABET.index(c) + 1 for c in "aeiou"]] = True
_LETTER = np.zeros(BASE, dtype=bool)
_LETTER[1:27] = True
_DIGIT = np.zeros(BASE, dtype=bool)
_DIGIT[27:37] = True


@dataclass(frozen=True)
class Names:
    """n domains as arrays. ``codes`` (n, L) uint8 character codes of each name, 0 after
    its end; ``lengths`` (n,) characters per name (≥ 1); ``tlds`` and ``names`` (n,) text;
    ``labels`` (n,) labels per domain."""

    domains: tuple[str, ...]
    names: tuple[str, ...]
    tlds: tuple[str, ...]
    codes: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.domains)

    def take(self, rows: np.ndarray) -> Names:
        """The names at positions ``rows`` (n',), codes cut to their longest name."""
        lengths = self.lengths[rows]
        width = max(int(lengths.max()), 1) if len(rows) else 1
        return Names(
            tuple(self.domains[i] for i in rows),
            tuple(self.names[i] for i in rows),
            tuple(self.tlds[i] for i in rows),
            self.codes[rows, :width],
            lengths,
            self.labels[rows],
        )


def split_domain(domain: str) -> tuple[str, str, int]:
    """(name, tld, label count) of one lower-cased domain, as the module docstring says."""
    labels = [part for part in domain.split(".") if part]
    body = labels[:-1] if len(labels) > 1 else labels
    return max(body, key=len)[:MAX_NAME], labels[-1], len(labels)


def check_domain(value: object, row: int) -> str:
    """A valid domain as lower-case text, else DataError naming the row and what was
    expected: text of 1..253 characters, ASCII (IDNA ``xn--`` form), with a name label."""
    if value is None or (isinstance(value, float) and value != value):
        raise DataError(f"domain at row {row}: missing value; expected a domain name")
    if not isinstance(value, str):
        raise DataError(
            f"domain at row {row}: expected text, got {type(value).__name__} {value!r}"[:200]
        )
    text = value.strip().lower().rstrip(".")
    if not text or len(text) > MAX_DOMAIN or not text.isascii() or not text.replace(".", ""):
        raise DataError(
            f"domain at row {row}: expected an ASCII domain name of 1 to {MAX_DOMAIN} "
            f"characters (IDNA xn-- form for other scripts), got {value!r}"[:300]
        )
    return text


def parse(domains: list[str] | tuple[str, ...]) -> Names:
    """Domains (n,) → :class:`Names`; DataError names the first invalid row."""
    texts = [check_domain(d, i) for i, d in enumerate(domains)]
    parts = [split_domain(t) for t in texts]
    names = tuple(p[0] for p in parts)
    lengths = np.fromiter((len(n) for n in names), dtype=np.int64, count=len(names))
    width = int(lengths.max()) if len(names) else 1
    raw = np.zeros((len(names), width), dtype=np.uint8)
    if len(names):
        joined = "".join(n.ljust(width, "\0") for n in names).encode("ascii")
        raw = np.frombuffer(joined, dtype=np.uint8).reshape(len(names), width)
    codes = np.where(raw == 0, 0, _CODE[raw & 0x7F]).astype(np.uint8)
    labels = np.fromiter((p[2] for p in parts), dtype=np.int64, count=len(parts))
    return Names(tuple(texts), names, tuple(p[1] for p in parts), codes, lengths, labels)


def engineered(names: Names) -> np.ndarray:
    """The :data:`FEATURES` of every name, float array (n, len(FEATURES))."""
    codes, n_chars = names.codes, names.lengths.astype(float)
    letters = _LETTER[codes]
    n_letters = np.maximum(letters.sum(axis=1), 1)
    consonant = letters & ~_VOWEL[codes]
    flat = (np.arange(len(names))[:, None] * BASE + codes).ravel()
    counts = np.bincount(flat, minlength=len(names) * BASE).reshape(len(names), BASE)
    counts[:, 0] = 0
    share = counts / n_chars[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(share > 0, share * np.log2(share), 0.0).sum(axis=1)
    return np.column_stack(
        [
            n_chars,
            names.labels.astype(float),
            _DIGIT[codes].sum(axis=1) / n_chars,
            (codes == ALPHABET.index("-") + 1).sum(axis=1).astype(float),
            _VOWEL[codes].sum(axis=1) / n_letters,
            longest_run(consonant).astype(float),
            entropy,
            (counts > 0).sum(axis=1) / n_chars,
        ]
    )


def longest_run(mask: np.ndarray) -> np.ndarray:
    """Longest run of True in every row of a boolean (n, L) matrix, shape (n,)."""
    run = np.zeros(mask.shape[0], dtype=np.int64)
    best = np.zeros(mask.shape[0], dtype=np.int64)
    for column in mask.T:
        run = np.where(column, run + 1, 0)
        np.maximum(best, run, out=best)
    return best


def ngram_keys(names: Names, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Character n-grams of every name framed by boundary marks (code 0 both ends stands
    for the boundary, so ``^ab`` and ``ab$`` are n-grams of their own).

    Returns ``keys`` (n_domains, P) int64 — a key unique to each n-gram (radix
    :data:`BASE` + 1, boundary = BASE), -1 where the window runs past the name — and
    ``starts`` (P,), the window's first position in name characters (-1 = the opening
    mark)."""
    codes = names.codes.astype(np.int64)
    width = codes.shape[1]
    framed = np.full((len(names), width + 2), -1, dtype=np.int64)
    framed[:, 1 : width + 1] = np.where(codes == 0, -1, codes)
    framed[np.arange(len(names)), 0] = BASE
    framed[np.arange(len(names)), names.lengths + 1] = BASE
    windows = width + 3 - n
    keys = np.zeros((len(names), windows), dtype=np.int64)
    valid = np.ones((len(names), windows), dtype=bool)
    for offset in range(n):
        part = framed[:, offset : offset + windows]
        valid &= part >= 0
        keys = keys * (BASE + 1) + np.maximum(part, 0)
    keys += n * (BASE + 1) ** 4  # the order tells 1- to 4-grams apart
    return np.where(valid, keys, -1), np.arange(windows) - 1
