"""Web-request payloads as text a linear model reads: normalisation and hashed n-grams.

:func:`normalise` undoes what an attacker may vary without changing what a payload does:
URL encoding (``%27``, ``+`` for a space; twice, for double encoding), HTML character
references (``&#x3c;``, ``&lt;``), letter case, SQL/C comments (``/**/``) and runs of
whitespace (each becomes one space). :func:`normalise_with_spans` gives the same text and,
for each of its characters, the [start, end) range of raw characters it came from, so
that weights on normalised n-grams can be shown on the payload as sent.

:func:`hashed_ngrams` turns normalised texts into a sparse (n, 2**bits) matrix of
character n-gram counts (n = 1..max_n), scaled by 1/sqrt(n-grams in the text), vectorised over
all texts with NumPy (no per-n-gram Python). A text is framed by a start mark (``\\x02``)
and an end mark (``\\x03``) so that "starts with a quote" is an n-gram too; n-grams made
of marks only are not counted. :func:`ngram_occurrences` lists, for one text, each
counted n-gram's bucket and character range, in the order the matrix counts them.
"""

from __future__ import annotations

import html
import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import scipy.sparse as sp

START, END = "\x02", "\x03"
_DECODE = re.compile(r"%[0-9a-fA-F]{2}|\+|&(?:#[xX][0-9a-fA-F]{1,6}|#[0-9]{1,7}|[a-zA-Z]{2,8});?")
_COLLAPSE = re.compile(r"/\*.*?(?:\*/|$)|\s+", re.DOTALL)
_MASK = (1 << 64) - 1
_MULT = 0x100000001B3
_MIX = 0x9E3779B97F4A7C15


def _decoded(match: re.Match[str]) -> str:
    token = match.group(0)
    if token == "+":
        return " "
    if token[0] == "%":
        return urllib.parse.unquote(token)
    return html.unescape(token) or token  # a reference to nothing (e.g. &#x3;) stays


def _collapsed(match: re.Match[str]) -> str:
    return " "


def normalise(raw: str) -> str:
    """The normalised form of one payload (see the module docstring)."""
    text = raw
    for _ in range(2):
        if "%" in text or "&" in text or "+" in text:
            text = _DECODE.sub(_decoded, text)
    text = _COLLAPSE.sub(_collapsed, text)
    return text.lower()


def _stage(
    text: str, spans: list[tuple[int, int]], pattern: re.Pattern[str], replace
) -> tuple[str, list[tuple[int, int]]]:
    """One substitution stage with its raw-character map carried along."""
    out: list[str] = []
    out_spans: list[tuple[int, int]] = []
    at = 0
    for match in pattern.finditer(text):
        a, b = match.span()
        out.append(text[at:a])
        out_spans.extend(spans[at:a])
        new = replace(match)
        covered = (spans[a][0], spans[b - 1][1]) if b > a else spans[a]
        out.append(new)
        out_spans.extend([covered] * len(new))
        at = b
    out.append(text[at:])
    out_spans.extend(spans[at:])
    return "".join(out), out_spans


def normalise_with_spans(raw: str) -> tuple[str, list[tuple[int, int]]]:
    """(normalise(raw), spans): spans[i] is the [start, end) range of ``raw`` that
    normalised character i came from (a decoded ``%27`` maps to its three characters)."""
    text, spans = raw, [(i, i + 1) for i in range(len(raw))]
    for _ in range(2):
        if "%" in text or "&" in text or "+" in text:
            text, spans = _stage(text, spans, _DECODE, _decoded)
    text, spans = _stage(text, spans, _COLLAPSE, _collapsed)
    lowered: list[str] = []
    lowered_spans: list[tuple[int, int]] = []
    for char, span in zip(text, spans, strict=True):
        low = char.lower()  # one character may lower to two (e.g. "İ")
        lowered.append(low)
        lowered_spans.extend([span] * len(low))
    return "".join(lowered), lowered_spans


def _codes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Code points of the framed texts concatenated (uint64) and each text's start."""
    import numpy as np

    framed = "".join(f"{START}{t}{END}" for t in texts)
    codes = np.frombuffer(framed.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lengths = np.fromiter((len(t) + 2 for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    return codes, starts


def _grams(codes: np.ndarray, starts: np.ndarray, max_n: int, bits: int) -> np.ndarray:
    """(len(codes), max_n) int64: the hash bucket of the n-gram starting at each position
    (column n - 1), or -1 where that n-gram is not counted (it runs past its text's end or
    is made of frame marks only). Rows follow positions, so a text's n-grams are
    contiguous."""
    import numpy as np

    total = len(codes)
    doc = np.repeat(np.arange(len(starts) - 1), np.diff(starts))
    room = starts[1:][doc] - np.arange(total)  # characters left in the text from here
    mark = (codes == ord(START)) | (codes == ord(END))
    h = np.full(total, 0xCBF29CE484222325, dtype=np.uint64)
    marks_only = np.ones(total, dtype=bool)
    columns = []
    shift = np.uint64(64 - bits)
    with np.errstate(over="ignore"):
        for n in range(1, max_n + 1):
            m = max(total - n + 1, 0)  # positions with n characters to their right
            nxt = np.zeros(total, dtype=np.uint64)
            nxt[:m] = codes[n - 1 : n - 1 + m]
            h = (h ^ nxt) * np.uint64(_MULT)
            inner = np.ones(total, dtype=bool)
            inner[:m] = mark[n - 1 : n - 1 + m]
            marks_only &= inner
            keep = (room >= n) & ~marks_only
            bucket = ((h ^ np.uint64(n)) * np.uint64(_MIX)) >> shift
            columns.append(np.where(keep, bucket.astype(np.int64), -1))
    return np.stack(columns, axis=1)


def hashed_ngrams(texts: Sequence[str], max_n: int = 4, bits: int = 18) -> sp.csr_matrix:
    """Sparse (len(texts), 2**bits) float64 matrix: row i counts the 1..max_n character
    n-grams of framed normalised text i by hash bucket, each occurrence weighing
    1 / sqrt(number of n-grams of text i) (a text without n-grams gives a zero row).
    ``texts`` must already be normalised. An n-gram seen twice is stored as two entries
    of its column (not summed): products and row sums treat them as one value."""
    import numpy as np
    import scipy.sparse as sp

    codes, starts = _codes(texts)
    buckets = _grams(codes, starts, max_n, bits)
    counted = buckets >= 0
    per_text = (
        np.add.reduceat(counted.sum(axis=1), starts[:-1]) if len(texts) else np.zeros(0)
    ).astype(np.int64)
    indptr = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(per_text, out=indptr[1:])
    weight = np.divide(1.0, np.sqrt(per_text), out=np.zeros(len(texts)), where=per_text > 0)
    data = np.repeat(weight, per_text)
    return sp.csr_matrix(
        (data, buckets[counted], indptr), shape=(len(texts), 1 << bits), copy=False
    )


def ngram_occurrences(text: str, max_n: int = 4, bits: int = 18) -> list[tuple[int, int, int, str]]:
    """(bucket, start, end, label) of every counted n-gram of one normalised ``text``, in
    the order of its entries in :func:`hashed_ngrams`; start and end index ``text`` itself
    (frame marks are cut off, so a mark-led n-gram covers fewer than n characters), and
    the label is the n-gram's text with ``^`` for the start mark and ``$`` for the end."""
    found = ngram_arrays(text, max_n, bits)
    return [
        (bucket, start, end, found.label(text, i))
        for i, (bucket, start, end) in enumerate(
            zip(found.buckets.tolist(), found.starts.tolist(), found.ends.tolist(), strict=True)
        )
    ]


@dataclass(frozen=True)
class NgramArrays:
    """The counted n-grams of one normalised text as arrays (m,), in the order of
    :func:`ngram_occurrences`: ``buckets``, [``starts``, ``ends``) in the text, and whether
    each begins with the start mark (``opens``) or ends with the end mark (``closes``)."""

    buckets: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    opens: np.ndarray
    closes: np.ndarray

    def label(self, text: str, i: int) -> str:
        """The i-th n-gram's text, ``^`` for the start mark and ``$`` for the end."""
        start, end = int(self.starts[i]), int(self.ends[i])
        return ("^" if self.opens[i] else "") + text[start:end] + ("$" if self.closes[i] else "")


def ngram_arrays(text: str, max_n: int = 4, bits: int = 18) -> NgramArrays:
    """:class:`NgramArrays` of one normalised ``text`` (see :func:`ngram_occurrences`)."""
    import numpy as np

    codes, starts = _codes([text])
    buckets = _grams(codes, starts, max_n, bits)
    p, k = np.nonzero(buckets >= 0)
    last = p + k  # framed positions, inclusive
    return NgramArrays(
        buckets=buckets[p, k],
        starts=np.maximum(p - 1, 0),
        ends=np.minimum(last, len(text)),
        opens=p == 0,
        closes=last > len(text),
    )
