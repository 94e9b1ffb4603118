"""Semantics-preserving rewrites of web attack payloads (the feasible evasion moves).

The attacker controls the whole parameter value but must keep the attack working, so a
move here changes how a payload is written, not what it does (the operators of
WAF-a-MoLE, Demetrio et al. 2020, and their XSS, shell and path counterparts):

- ``sqli``: keyword case, whitespace as another blank or an inline comment ``/**/``,
  comments between tokens, ``and``/``or`` as ``&&``/``||``, ``=`` between numbers as
  ``like``, integers in hexadecimal, string literals split (``'ab' 'c'``) or as a hex
  literal, the text of a trailing comment (MySQL dialect where one is needed);
- ``xss``: tag, attribute and ``javascript:`` case, the blank after a tag name as ``/`` or
  a newline, characters of attribute values as HTML character references, JavaScript
  string literals split with ``+``;
- ``cmdi``: empty quotes or a backslash inside a command word (``c''at``, ``c\\at``),
  blanks as ``${IFS}`` or a tab, ``/`` in a path as ``//`` or ``/./``;
- ``path-traversal``: ``/`` as ``//``, ``./`` segments inserted, letter case of Windows
  paths (which are case-insensitive).

URL encoding is not a move: the request's own URL decoding undoes it before any detector
sees the value, for TrustShield and the peers alike. A *candidate* applies up to
``budget`` moves in sequence; :func:`candidates` gives ``tries`` candidates per payload,
the same for every detector for one seed. Generating them is red-team work: the CLI runs
it behind the red-team gate.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trustshield.detectors.payload import known_type
from trustshield.errors import DataError

Move = Callable[[str, np.random.Generator], str | None]

SQL_WORDS = re.compile(
    r"\b(select|union|all|from|where|and|or|not|null|order|by|group|having|sleep|"
    r"benchmark|case|when|then|else|end|if|exists|insert|into|values|update|delete|drop|"
    r"create|replace|function|returns|waitfor|delay|declare|exec|char|concat|cast|as|"
    r"count|dual|like|limit|procedure|analyse|extractvalue|updatexml|make_set|elt)\b",
    re.IGNORECASE,
)
BLANK = re.compile(r"[ \t\n]+")
NUM_EQ = re.compile(r"\b(\d+)\s*=\s*(\d+)\b")
INTEGER = re.compile(r"(?<![\w.'\"])(\d{1,9})(?![\w.'\"])")
LITERAL = re.compile(r"'([a-z]{2,12})'", re.IGNORECASE)
TRAILING_COMMENT = re.compile(r"(--|#)[ \w]*$")
TAG = re.compile(r"<(/?)([a-z][a-z0-9]*)", re.IGNORECASE)
ATTR = re.compile(r"(?<=[\s/])([a-z][a-z-]*)(?=\s*=)", re.IGNORECASE)
TAG_BLANK = re.compile(r"(<[a-z][a-z0-9]*) +", re.IGNORECASE)
ATTR_VALUE = re.compile(r"<[a-z][^<>]*?[\s/][a-z-]+\s*=\s*[\"']?([^\"'\s<>]+)", re.IGNORECASE)
JS_SCHEME = re.compile(r"javascript:", re.IGNORECASE)
JS_STRING = re.compile(r"(['\"])([a-z0-9]{2,})\1", re.IGNORECASE)
SHELL_WORD = re.compile(r"(?<![\w$])(cat|id|ls|whoami|uname|ping|echo|sleep|wget|curl|nc)\b")
SLASH = re.compile(r"(?<=[\w.])/(?=[\w.])")
WINDOWS = re.compile(r"[a-z]:|\\|win|boot\.ini", re.IGNORECASE)


def _pick(rng: np.random.Generator, matches: list[re.Match[str]]) -> re.Match[str] | None:
    return matches[int(rng.integers(len(matches)))] if matches else None


def _replace(text: str, match: re.Match[str], new: str, group: int = 0) -> str:
    a, b = match.span(group)
    return text[:a] + new + text[b:]


def _random_case(word: str, rng: np.random.Generator) -> str:
    flips = rng.random(len(word)) < 0.5
    return "".join(c.swapcase() if f else c for c, f in zip(word, flips, strict=True))


def _case_of(pattern: re.Pattern[str], group: int = 0) -> Move:
    def move(text: str, rng: np.random.Generator) -> str | None:
        m = _pick(rng, list(pattern.finditer(text)))
        return None if m is None else _replace(text, m, _random_case(m.group(group), rng), group)

    return move


def _sub_one(pattern: re.Pattern[str], make: Callable[[re.Match[str], np.random.Generator], str]):
    def move(text: str, rng: np.random.Generator) -> str | None:
        m = _pick(rng, list(pattern.finditer(text)))
        return None if m is None else _replace(text, m, make(m, rng))

    return move


def _choice(options: tuple[str, ...]) -> Callable[[re.Match[str], np.random.Generator], str]:
    return lambda m, rng: options[int(rng.integers(len(options)))]


def _comment_after_word(text: str, rng: np.random.Generator) -> str | None:
    m = _pick(rng, list(SQL_WORDS.finditer(text)))
    return None if m is None else text[: m.end()] + "/**/" + text[m.end() :]


def _logic(m: re.Match[str], rng: np.random.Generator) -> str:
    return " && " if m.group(0).strip().lower() == "and" else " || "


def _hex_int(m: re.Match[str], rng: np.random.Generator) -> str:
    return hex(int(m.group(1)))


def _split_literal(m: re.Match[str], rng: np.random.Generator) -> str:
    word = m.group(1)
    if rng.random() < 0.5:
        return "0x" + word.encode().hex()
    cut = int(rng.integers(1, len(word)))
    return f"'{word[:cut]}' '{word[cut:]}'"


def _comment_text(m: re.Match[str], rng: np.random.Generator) -> str:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return m.group(1) + " " + "".join(letters[i] for i in rng.integers(0, 26, 4))


def _entity(m: re.Match[str], rng: np.random.Generator) -> str:
    value = m.group(1)
    spots = [i for i, c in enumerate(value) if c.isalnum() or c in ":()."]
    if not spots:
        return m.group(0)
    i = spots[int(rng.integers(len(spots)))]
    code = ord(value[i])
    ref = f"&#x{code:x};" if rng.random() < 0.5 else f"&#{code};"
    return m.group(0)[: m.start(1) - m.start(0)] + value[:i] + ref + value[i + 1 :]


def _js_split(m: re.Match[str], rng: np.random.Generator) -> str:
    q, word = m.group(1), m.group(2)
    cut = int(rng.integers(1, len(word)))
    return f"{q}{word[:cut]}{q}+{q}{word[cut:]}{q}"


def _shell_break(m: re.Match[str], rng: np.random.Generator) -> str:
    word = m.group(0)
    cut = int(rng.integers(1, len(word))) if len(word) > 1 else 1
    glue = ("''", '""', "\\")[int(rng.integers(3))]
    return word[:cut] + glue + word[cut:]


def _traversal_dot(text: str, rng: np.random.Generator) -> str | None:
    spots = [m.end() for m in re.finditer(r"(?:(?<=/)|^)\.\./", text)]
    if not spots:
        return None
    at = spots[int(rng.integers(len(spots)))]
    return text[:at] + "./" + text[at:]


def _windows_case(text: str, rng: np.random.Generator) -> str | None:
    return _random_case(text, rng) if WINDOWS.search(text) else None


MOVES: dict[str, dict[str, Move]] = {
    "sqli": {
        "keyword case": _case_of(SQL_WORDS),
        "blank as comment or other blank": _sub_one(BLANK, _choice(("/**/", "\t", "\n", "  "))),
        "comment after keyword": _comment_after_word,
        "and/or as &&/||": _sub_one(re.compile(r"\s(and|or)\s", re.IGNORECASE), _logic),
        "= as like": _sub_one(NUM_EQ, lambda m, rng: f"{m.group(1)} like {m.group(2)}"),
        "integer as hex": _sub_one(INTEGER, _hex_int),
        "string split or hex": _sub_one(LITERAL, _split_literal),
        "comment text": _sub_one(TRAILING_COMMENT, _comment_text),
    },
    "xss": {
        "tag case": _case_of(TAG, 2),
        "attribute case": _case_of(ATTR),
        "scheme case": _case_of(JS_SCHEME),
        "blank after tag": _sub_one(
            TAG_BLANK, lambda m, rng: m.group(1) + ("/", "\n", "\t")[int(rng.integers(3))]
        ),
        "character reference": _sub_one(ATTR_VALUE, _entity),
        "string split": _sub_one(JS_STRING, _js_split),
    },
    "cmdi": {
        "quote or backslash in word": _sub_one(SHELL_WORD, _shell_break),
        "blank as ${IFS} or tab": _sub_one(re.compile(r" "), _choice(("${IFS}", "\t"))),
        "slash as // or /./": _sub_one(SLASH, _choice(("//", "/./"))),
    },
    "path-traversal": {
        "slash doubled": _sub_one(re.compile(r"/"), _choice(("//",))),
        "./ inserted": _traversal_dot,
        "windows case": _windows_case,
    },
}


@dataclass(frozen=True)
class Budget:
    """How hard the attacker tries: ``moves`` rewrites per candidate at most, ``tries``
    candidates per payload (each candidate is one query of the detector)."""

    moves: int = 5
    tries: int = 20

    def __post_init__(self) -> None:
        if self.moves < 1 or self.tries < 1:
            raise DataError(f"a rewrite budget needs moves >= 1 and tries >= 1; got {self}")


def rewrite(payload: str, attack_type: str, rng: np.random.Generator, moves: int) -> str:
    """``payload`` after 1..``moves`` random feasible moves of its type (unchanged when no
    move applies; an unknown type has no moves)."""
    available = MOVES.get(known_type(attack_type) or "", {})
    if not available:
        return payload
    names = list(available)
    text = payload
    for _ in range(int(rng.integers(1, moves + 1))):
        for i in rng.permutation(len(names)):
            new = available[names[i]](text, rng)
            if new is not None and new != text:
                text = new
                break
    return text


def candidates(
    payloads: list[str], attack_types: list[str], budget: Budget, seed: int = 0
) -> list[list[str]]:
    """``budget.tries`` rewritten candidates of each payload (a list per payload), from a
    generator seeded by ``seed`` and the payload's position: the same for every detector."""
    if len(payloads) != len(attack_types):
        raise DataError(
            f"candidates: {len(payloads)} payloads but {len(attack_types)} attack types"
        )
    out = []
    for i, (payload, kind) in enumerate(zip(payloads, attack_types, strict=True)):
        rng = np.random.default_rng([seed, i])
        out.append([rewrite(payload, kind, rng, budget.moves) for _ in range(budget.tries)])
    return out


def evasion(
    flagged: Callable[[list[str]], np.ndarray], tried: list[list[str]], caught: np.ndarray
) -> np.ndarray:
    """(n,) bool: payload i was flagged as sent (``caught[i]``) and at least one of its
    candidates ``tried[i]`` is not. ``flagged`` maps payload strings to a bool array."""
    flat = [c for i, row in enumerate(tried) if caught[i] for c in row]
    owners = np.repeat(np.flatnonzero(caught), [len(tried[i]) for i in np.flatnonzero(caught)])
    missed = ~np.asarray(flagged(flat), dtype=bool) if flat else np.zeros(0, bool)
    out = np.zeros(len(tried), dtype=bool)
    out[owners[missed]] = True
    return out


def guided_evasion(
    score: Callable[[list[str]], np.ndarray],
    threshold: float,
    payloads: list[str],
    attack_types: list[str],
    budget: Budget,
    seed: int = 0,
) -> np.ndarray:
    """(n,) bool: a score-guided attacker (WAF-a-MoLE's search) got payload i below the
    threshold. Only payloads scored above ``threshold`` as sent are attacked. Each of
    ``budget.moves`` rounds applies one more move to the current best variant in
    ``ceil(tries / moves)`` ways and keeps the lowest-scoring one, so a final variant
    holds at most ``moves`` moves and costs at most ``tries`` queries (one batch per
    round, for all payloads at once)."""
    if len(payloads) != len(attack_types):
        raise DataError(
            f"guided_evasion: {len(payloads)} payloads but {len(attack_types)} attack types"
        )
    width = -(-budget.tries // budget.moves)
    best = list(payloads)
    alive = np.asarray(score(best), dtype=float) > threshold
    evaded = np.zeros(len(payloads), dtype=bool)
    rngs = [np.random.default_rng([seed, i]) for i in range(len(payloads))]
    for _ in range(budget.moves):
        live = np.flatnonzero(alive & ~evaded)
        if not len(live):
            break
        tried = [
            [rewrite(best[i], attack_types[i], rngs[i], 1) for _ in range(width)] for i in live
        ]
        scores = np.asarray(score([c for row in tried for c in row]), dtype=float)
        scores = scores.reshape(len(live), width)
        pick = scores.argmin(axis=1)
        for j, i in enumerate(live):
            best[i] = tried[j][pick[j]]
            evaded[i] = scores[j, pick[j]] <= threshold
    return evaded
