"""A payload decision explained on the payload itself: n-grams and highlighted characters.

For one payload, the ``payload`` detector's score is base + Σ over n-gram occurrences of
that occurrence's term (:class:`~trustshield.detectors.payload.PayloadTerms`, split
evenly over the occurrences of a bucket). Each occurrence covers characters of the
normalised text; its term is split evenly over them, and each normalised character's
share evenly over the raw characters it came from (a decoded ``%27`` shares over three).
So ``base + sum(chars) == score`` exactly (up to float rounding), per character of the
payload as sent: what a web engineer sees highlighted. ``ngrams`` sums the occurrences of
each distinct normalised n-gram, largest push first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustshield.detectors.payload import CWE, TECHNIQUE, PayloadDetector, known_type
from trustshield.features.payload_text import ngram_arrays, normalise_with_spans


@dataclass(frozen=True)
class NgramPush:
    """One distinct normalised n-gram: its text, summed term and raw character ranges."""

    text: str
    contribution: float
    spans: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class PayloadExplanation:
    """One payload's score (log-odds margin of ``attack_type`` over normal), its base, the
    term of each raw character (len(payload),), and the n-grams by contribution.
    ``technique`` is ATT&CK T1190, ``cwe`` the attack type's CWE (None when unknown)."""

    payload: str
    score: float
    base: float
    attack_type: str
    technique: str
    cwe: str | None
    chars: np.ndarray
    ngrams: tuple[NgramPush, ...]

    def gap(self) -> float:
        """|base + Σ character terms − score|: zero up to float rounding."""
        return abs(self.base + float(self.chars.sum()) - self.score)

    def as_dict(self, top: int = 10) -> dict:
        return {
            "payload": self.payload,
            "score": self.score,
            "base": self.base,
            "attack_type": self.attack_type,
            "technique": self.technique,
            "cwe": self.cwe,
            "chars": self.chars.tolist(),
            "ngrams": [
                {
                    "text": g.text,
                    "contribution": g.contribution,
                    "spans": [list(s) for s in g.spans],
                }
                for g in self.ngrams[:top]
            ],
        }


def explain_payloads(
    detector: PayloadDetector, payloads: list[str], *, ngrams_above: float = -np.inf
) -> list[PayloadExplanation]:
    """The explanation of each raw payload (see the module docstring). ``ngrams`` are
    listed for payloads scoring above ``ngrams_above`` only (the others get none: a caller
    that names the n-grams of alerts alone skips that work); the characters always."""
    found = detector.terms(payloads)
    scores = found.total()
    terms = found.terms.tocsr()
    out = []
    for i, raw in enumerate(payloads):
        row = slice(terms.indptr[i], terms.indptr[i + 1])
        out.append(
            _one(
                detector,
                raw,
                (terms.indices[row], terms.data[row]),
                float(scores[i]),
                float(found.base[i]),
                str(found.attack_type[i]),
                bool(scores[i] > ngrams_above),
            )
        )
    return out


def _one(
    detector: PayloadDetector,
    raw: str,
    bucket_terms: tuple[np.ndarray, np.ndarray],
    score: float,
    base: float,
    kind: str,
    with_ngrams: bool,
) -> PayloadExplanation:
    if detector.normalise:
        text, spans = normalise_with_spans(raw)
    else:
        text, spans = raw, [(i, i + 1) for i in range(len(raw))]
    grams = ngram_arrays(text, detector.max_n, detector.bits)
    # each occurrence's share of its bucket's term (the term split over its occurrences)
    buckets, inverse, count = np.unique(grams.buckets, return_inverse=True, return_counts=True)
    per_bucket = np.zeros(len(buckets))
    where = np.searchsorted(buckets, bucket_terms[0])
    np.add.at(per_bucket, where, bucket_terms[1])
    share = (per_bucket / count)[inverse]
    # split evenly over the occurrence's normalised characters, then each normalised
    # character's term evenly over the raw characters it came from
    normalised = _spread(len(text), grams.starts, grams.ends, share)
    raw_start = np.fromiter((a for a, _ in spans), dtype=np.int64, count=len(spans))
    raw_end = np.fromiter((b for _, b in spans), dtype=np.int64, count=len(spans))
    chars = _spread(len(raw), raw_start, raw_end, normalised)
    ngrams = _pushes(text, grams, share, raw_start, raw_end) if with_ngrams else ()
    return PayloadExplanation(
        raw, score, base, kind, TECHNIQUE, CWE.get(known_type(kind) or ""), chars, ngrams
    )


def _spread(size: int, starts: np.ndarray, ends: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(size,): each value split evenly over positions [starts[i], ends[i])."""
    out = np.zeros(size)
    widths = ends - starts
    if widths.sum() == 0:
        return out
    offsets = np.repeat(np.cumsum(widths) - widths, widths)
    positions = np.repeat(starts, widths) + np.arange(int(widths.sum())) - offsets
    np.add.at(out, positions, np.repeat(values / np.maximum(widths, 1), widths))
    return out


def _pushes(
    text: str, grams, share: np.ndarray, raw_start: np.ndarray, raw_end: np.ndarray
) -> tuple[NgramPush, ...]:
    """The distinct n-grams, their summed shares and raw character ranges, largest push
    first (ties in order of first occurrence)."""
    pushes: dict[str, list] = {}
    for i, value in enumerate(share.tolist()):
        entry = pushes.setdefault(grams.label(text, i), [0.0, set()])
        entry[0] += value
        entry[1].add((int(raw_start[grams.starts[i]]), int(raw_end[grams.ends[i] - 1])))
    return tuple(
        sorted(
            (NgramPush(g, v, tuple(sorted(s))) for g, (v, s) in pushes.items()),
            key=lambda g: -g.contribution,
        )
    )


def highlight_html(e: PayloadExplanation) -> str:
    """The raw payload as HTML, each character's background red (pushes towards the
    attack) or blue (towards normal), its opacity the character's share of the largest
    |term|; the exact term in each character's title. Every character is escaped."""
    import html

    scale = float(np.max(np.abs(e.chars))) if len(e.chars) else 0.0
    parts = []
    for char, term in zip(e.payload, e.chars.tolist(), strict=True):
        alpha = abs(term) / scale if scale > 0 else 0.0
        colour = "220,38,38" if term > 0 else "37,99,235"
        parts.append(
            f'<span style="background:rgba({colour},{alpha:.3f})" '
            f'title="{term:+.6f}">{html.escape(char)}</span>'
        )
    return '<code class="payload">' + "".join(parts) + "</code>"
