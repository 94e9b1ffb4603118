"""Good practices for AI in cyber defence and real case studies, loaded from YAML.

``practices.yaml`` and ``casestudies.yaml`` ship inside the package. The schema is checked
here, in code: unknown keys are refused, ids are unique, every ``serves`` id must exist in
the framework catalogue, every check must be one TrustShield measures (:data:`KNOWN_CHECKS`)
and every case study must point at existing practices. Errors name the file, the entry and
the key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from trustshield.errors import CatalogueError
from trustshield.governance.catalogue import unique_ids as _unique
from trustshield.governance.context import USE_CASES

#: names of the Evidence checks TrustShield's assessors produce; a practice may cite only these
KNOWN_CHECKS = (
    # assess/evidence.py
    "detection",
    "false alarms",
    "explanation exactness",
    "data provenance",
    # assess/baselines.py
    "baseline comparison",
    # assess/robustness/
    "evasion resistance",
    "poisoning resilience",
    "poisoning resilience (sanitised training)",
    "measurement-noise stability",
    "missing-value handling",
    # assess/authentication.py, assess/fairness.py
    "keystroke verification",
    "mouse verification",
    "fail-safe authentication",
    "fairness mitigation",
    "fairness cost",
    # assess/security.py
    "audit chain integrity",
    "model artifact integrity",
    "red-team gating",
    "template encryption at rest",
    "no pickle in model artifacts",
    # assess/drift_evidence.py
    "input drift",
    "output drift",
)
KINDS = ("deployment", "attack on ML defence", "misuse")
#: words accepted by ``practices(principle=...)`` for each OECD AI principle
PRINCIPLE_WORDS = {
    "oecd:1.1": ("inclusive growth", "sustainable development", "well-being", "wellbeing"),
    "oecd:1.2": ("human rights", "rule of law", "democratic values", "fairness", "privacy"),
    "oecd:1.3": ("transparency", "explainability"),
    "oecd:1.4": ("robustness", "security", "safety"),
    "oecd:1.5": ("accountability",),
}

PRACTICE_KEYS = {
    "id",
    "title",
    "statement",
    "why",
    "serves",
    "use_cases",
    "checks",
    "applies_when",
    "planned",
}
PRACTICE_REQUIRED = ("id", "title", "statement", "why", "serves", "use_cases", "checks")
CASE_KEYS = {"id", "title", "date", "kind", "source", "what_happened", "lesson", "practices"}
CASE_SOURCE_KEYS = {"title", "url"}
DATE = re.compile(r"^\d{4}(-(0[1-9]|1[0-2]))?$")

UNKNOWN_PRINCIPLE = (
    "unknown principle {value!r}: give an OECD item id (oecd:1.1 … oecd:1.5) "
    "or one of the words {words}"
)
UNKNOWN_USE_CASE = "unknown use case {value!r}; known: {known}"


@dataclass(frozen=True)
class Practice:
    """One good practice: what to do, why, what it serves, and the checks that show it."""

    id: str
    title: str
    statement: str
    why: str
    serves: tuple[str, ...]
    use_cases: tuple[str, ...]
    checks: tuple[str, ...]
    applies_when: str = ""
    planned: str = ""

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "statement": self.statement,
            "why": self.why,
            "serves": list(self.serves),
            "use_cases": list(self.use_cases),
            "checks": list(self.checks),
            "applies_when": self.applies_when,
            "planned": self.planned,
        }


@dataclass(frozen=True)
class CaseSource:
    """A public page that reports a case: its title and https address."""

    title: str
    url: str


@dataclass(frozen=True)
class CaseStudy:
    """A real, dated case of AI in cyber security and the practices it argues for."""

    id: str
    title: str
    date: str
    kind: str
    source: CaseSource
    what_happened: str
    lesson: str
    practices: tuple[str, ...]

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "date": self.date,
            "kind": self.kind,
            "source": vars(self.source).copy(),
            "what_happened": self.what_happened,
            "lesson": self.lesson,
            "practices": list(self.practices),
        }


# --- the built-in files -------------------------------------------------------------------


@lru_cache(maxsize=1)
def load_practices() -> tuple[Practice, ...]:
    """The practices shipped in the package (validated once per process)."""
    return practices_from_text(_read("practices.yaml"), "built-in practices.yaml")


@lru_cache(maxsize=1)
def case_studies() -> tuple[CaseStudy, ...]:
    """The case studies shipped in the package, each checked against the practices."""
    ids = {p.id for p in load_practices()}
    return case_studies_from_text(_read("casestudies.yaml"), "built-in casestudies.yaml", ids)


def practices(
    principle: str | None = None, framework: str | None = None, use_case: str | None = None
) -> list[Practice]:
    """Practices, optionally only those serving an OECD principle (``oecd:1.3`` or a word
    such as ``transparency``), a framework (``euaia``) or framework item (``euaia:art15``),
    and applying to a use case."""
    found = list(load_practices())
    if principle is not None:
        oecd = principle_item(principle)
        found = [p for p in found if oecd in p.serves]
    if framework is not None:
        wanted = _framework_filter(framework)
        found = [p for p in found if any(wanted(s) for s in p.serves)]
    if use_case is not None:
        if use_case not in USE_CASES:
            raise CatalogueError(UNKNOWN_USE_CASE.format(value=use_case, known=list(USE_CASES)))
        found = [p for p in found if use_case in p.use_cases]
    return found


def principle_item(principle: str) -> str:
    """The OECD item id for ``oecd:1.x`` or a principle word (case-insensitive)."""
    value = principle.strip().lower()
    if value in PRINCIPLE_WORDS:
        return value
    for item_id, words in PRINCIPLE_WORDS.items():
        if value in words:
            return item_id
    words = sorted(w for ws in PRINCIPLE_WORDS.values() for w in ws)
    raise CatalogueError(UNKNOWN_PRINCIPLE.format(value=principle, words=words))


def _framework_filter(framework: str) -> Callable[[str], bool]:
    from trustshield.governance.catalogue import load_catalogue

    catalogue = load_catalogue()
    if ":" in framework:
        catalogue.item(framework)  # raises with the known frameworks when unknown
        return lambda served: served == framework
    catalogue.framework(framework)
    return lambda served: served.startswith(f"{framework}:")


def _read(name: str) -> str:
    return (resources.files("trustshield.governance") / name).read_text("utf-8")


# --- parsing and validation ---------------------------------------------------------------


def practices_from_text(
    text: str, origin: str = "practices", known_items: Callable[[str], bool] | None = None
) -> tuple[Practice, ...]:
    """Parse and validate practices YAML. ``known_items`` says whether a framework item id
    exists (default: the built-in catalogue)."""
    exists = known_items or _catalogue_has
    entries = _entries(text, origin)
    found = tuple(_practice(raw, exists, f"{origin}: entry {i}") for i, raw in enumerate(entries))
    _unique([p.id for p in found], origin, "practice id")
    return found


def case_studies_from_text(
    text: str, origin: str = "casestudies", practice_ids: set[str] | None = None
) -> tuple[CaseStudy, ...]:
    """Parse and validate case-study YAML; every practice reference must be in
    ``practice_ids`` (default: the built-in practices)."""
    ids = practice_ids if practice_ids is not None else {p.id for p in load_practices()}
    entries = _entries(text, origin)
    found = tuple(_case(raw, ids, f"{origin}: entry {i}") for i, raw in enumerate(entries))
    _unique([c.id for c in found], origin, "case study id")
    return found


def _practice(raw: Any, exists: Callable[[str], bool], where: str) -> Practice:
    where = _open(raw, where, PRACTICE_KEYS, PRACTICE_REQUIRED)
    serves = _strings(raw, "serves", where)
    for item_id in serves:
        if not exists(item_id):
            raise CatalogueError(
                f"{where}: serves {item_id!r}, which is not a framework item in the catalogue"
            )
    use_cases = _strings(raw, "use_cases", where)
    _all_in(use_cases, USE_CASES, "use_cases", where)
    checks = _strings(raw, "checks", where)
    _all_in(checks, KNOWN_CHECKS, "checks", where)
    return Practice(
        id=str(raw["id"]),
        title=_text(raw["title"]),
        statement=_text(raw["statement"]),
        why=_text(raw["why"]),
        serves=serves,
        use_cases=use_cases,
        checks=checks,
        applies_when=_text(raw.get("applies_when") or ""),
        planned=_text(raw.get("planned") or ""),
    )


def _case(raw: Any, practice_ids: set[str], where: str) -> CaseStudy:
    where = _open(raw, where, CASE_KEYS, tuple(sorted(CASE_KEYS)))
    date = str(raw["date"])
    if not DATE.match(date):
        raise CatalogueError(f"{where}: date {date!r} must be YYYY or YYYY-MM")
    if raw["kind"] not in KINDS:
        raise CatalogueError(f"{where}: kind {raw['kind']!r} is not one of {list(KINDS)}")
    source = _source(raw["source"], f"{where}: source")
    refs = _strings(raw, "practices", where)
    _all_in(refs, tuple(sorted(practice_ids)), "practices", where)
    return CaseStudy(
        id=str(raw["id"]),
        title=_text(raw["title"]),
        date=date,
        kind=raw["kind"],
        source=source,
        what_happened=_text(raw["what_happened"]),
        lesson=_text(raw["lesson"]),
        practices=refs,
    )


def _source(raw: Any, where: str) -> CaseSource:
    _open(raw, where, CASE_SOURCE_KEYS, ("title", "url"))
    url = str(raw["url"])
    if not url.startswith("https://"):
        raise CatalogueError(f"{where}: url {url!r} must be an https:// address")
    return CaseSource(title=_text(raw["title"]), url=url)


def _entries(text: str, origin: str) -> list:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise CatalogueError(
            f"{origin}: expected a non-empty list of entries, got {type(raw).__name__}"
        )
    return raw


def _open(raw: Any, where: str, allowed: set[str], required: tuple[str, ...]) -> str:
    """Check an entry is a mapping with only allowed and all required keys; return its
    location extended with its id when it has one."""
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping, got {type(raw).__name__}")
    if isinstance(raw.get("id"), str):
        where = f"{where} ({raw['id']})"
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise CatalogueError(f"{where}: unknown keys {unknown}; allowed: {sorted(allowed)}")
    for key in required:
        if raw.get(key) in (None, "", []):
            raise CatalogueError(f"{where}: missing required key {key!r}")
    return where


def _strings(raw: Mapping, key: str, where: str) -> tuple[str, ...]:
    value = raw[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CatalogueError(f"{where}: {key} must be a non-empty list of strings, got {value!r}")
    dup = sorted({v for v in value if value.count(v) > 1})
    if dup:
        raise CatalogueError(f"{where}: {key} repeats {dup}")
    return tuple(value)


def _all_in(values: tuple[str, ...], allowed: tuple[str, ...], key: str, where: str) -> None:
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise CatalogueError(f"{where}: {key} {unknown} not known; known: {list(allowed)}")


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _catalogue_has(item_id: str) -> bool:
    from trustshield.governance.catalogue import load_catalogue

    try:
        load_catalogue().item(item_id)
    except CatalogueError:
        return False
    return True
