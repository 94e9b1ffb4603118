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

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from trustshield.detectors.payload import CWE, TECHNIQUE, PayloadDetector, known_type
from trustshield.features.payload_text import ngram_occurrences, normalise_with_spans


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


def explain_payloads(detector: PayloadDetector, payloads: list[str]) -> list[PayloadExplanation]:
    """The explanation of each raw payload (see the module docstring)."""
    found = detector.terms(payloads)
    scores = found.total()
    out = []
    for i, raw in enumerate(payloads):
        row = found.terms.getrow(i)
        per_bucket: dict[int, float] = defaultdict(float)
        for j, v in zip(row.indices.tolist(), row.data.tolist(), strict=True):
            per_bucket[j] += v
        out.append(
            _one(
                detector,
                raw,
                per_bucket,
                float(scores[i]),
                float(found.base[i]),
                str(found.attack_type[i]),
            )
        )
    return out


def _one(
    detector: PayloadDetector,
    raw: str,
    per_bucket: dict[int, float],
    score: float,
    base: float,
    kind: str,
) -> PayloadExplanation:
    if detector.normalise:
        text, spans = normalise_with_spans(raw)
    else:
        text, spans = raw, [(i, i + 1) for i in range(len(raw))]
    occurrences = ngram_occurrences(text, detector.max_n, detector.bits)
    count: dict[int, int] = defaultdict(int)
    for bucket, *_ in occurrences:
        count[bucket] += 1
    chars = np.zeros(len(raw))
    pushes: dict[str, list] = {}
    for bucket, start, end, gram in occurrences:
        share = per_bucket.get(bucket, 0.0) / count[bucket]
        for k in range(start, end):
            a, b = spans[k]
            chars[a:b] += share / (end - start) / (b - a)
        entry = pushes.setdefault(gram, [0.0, set()])
        entry[0] += share
        entry[1].add((spans[start][0], spans[end - 1][1]))
    ngrams = tuple(
        sorted(
            (NgramPush(g, v, tuple(sorted(s))) for g, (v, s) in pushes.items()),
            key=lambda g: -g.contribution,
        )
    )
    return PayloadExplanation(
        raw, score, base, kind, TECHNIQUE, CWE.get(known_type(kind) or ""), chars, ngrams
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
