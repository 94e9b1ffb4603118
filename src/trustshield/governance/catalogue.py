"""The framework catalogue: governance frameworks and their items, loaded from YAML.

``frameworks.yaml`` ships inside the package. Each framework (OECD, EU AI Act, NIST AI RMF,
ALTAI, ENISA, MITRE ATLAS, OWASP ML Top 10, NIST IR 8596) lists items with an id prefixed by
the framework id (``euaia:art15``), a kind, a summary written for this catalogue and the
section of the source where the item lives. The schema is checked here, in code: unknown
keys are refused and every error names the framework, the item and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from trustshield.errors import CatalogueError
from trustshield.specs.yaml_shape import need_mapping, no_unknown

STATUSES = ("in force", "final", "draft", "living")
KINDS = (
    "principle",
    "article",
    "function",
    "category",
    "characteristic",
    "requirement",
    "threat",
    "tactic",
    "technique",
    "mitigation",
    "note",
)
FRAMEWORK_KEYS = {
    "id",
    "title",
    "publisher",
    "version",
    "date",
    "status",
    "source",
    "notes",
    "items",
}
FRAMEWORK_REQUIRED = ("id", "title", "publisher", "version", "date", "status", "source", "items")
ITEM_KEYS = {"id", "title", "kind", "summary", "section", "status", "source"}
ITEM_REQUIRED = ("id", "title", "kind", "summary", "section")
SOURCE_KEYS = {"document", "url"}

UNKNOWN_ITEM = "unknown framework item {id!r}; framework ids: {frameworks}"
UNKNOWN_FRAMEWORK = "unknown framework {id!r}; known: {frameworks}"


@dataclass(frozen=True)
class Source:
    """Where a framework or item is published: the document's title and a URL."""

    document: str
    url: str


@dataclass(frozen=True)
class Item:
    """One principle, article, category, threat, technique, … of a framework."""

    id: str
    framework: str
    title: str
    kind: str
    summary: str
    section: str
    status: str
    source: Source

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "framework": self.framework,
            "title": self.title,
            "kind": self.kind,
            "summary": self.summary,
            "section": self.section,
            "status": self.status,
            "source": vars(self.source).copy(),
        }


@dataclass(frozen=True)
class Framework:
    """A governance framework and its items, in catalogue order."""

    id: str
    title: str
    publisher: str
    version: str
    date: str
    status: str
    source: Source
    items: tuple[Item, ...]
    notes: str = ""

    def as_dict(self, *, with_items: bool = True) -> dict:
        out = {
            "id": self.id,
            "title": self.title,
            "publisher": self.publisher,
            "version": self.version,
            "date": self.date,
            "status": self.status,
            "source": vars(self.source).copy(),
            "notes": self.notes,
        }
        if with_items:
            out["items"] = [i.as_dict() for i in self.items]
        return out


@dataclass(frozen=True)
class Catalogue:
    """All frameworks; look items up by id or filter them by framework and kind."""

    frameworks: tuple[Framework, ...]

    def framework(self, framework_id: str) -> Framework:
        for fw in self.frameworks:
            if fw.id == framework_id:
                return fw
        raise CatalogueError(UNKNOWN_FRAMEWORK.format(id=framework_id, frameworks=self.ids()))

    def ids(self) -> list[str]:
        return [fw.id for fw in self.frameworks]

    def item(self, item_id: str) -> Item:
        for fw in self.frameworks:
            for it in fw.items:
                if it.id == item_id:
                    return it
        raise CatalogueError(UNKNOWN_ITEM.format(id=item_id, frameworks=self.ids()))

    def items(self, framework: str | None = None, kind: str | None = None) -> list[Item]:
        if kind is not None and kind not in KINDS:
            raise CatalogueError(f"unknown item kind {kind!r}; known: {list(KINDS)}")
        pool = [self.framework(framework)] if framework is not None else self.frameworks
        return [it for fw in pool for it in fw.items if kind is None or it.kind == kind]


@lru_cache(maxsize=1)
def load_catalogue() -> Catalogue:
    """The catalogue shipped in the package (parsed and validated once per process)."""
    text = (resources.files("trustshield.governance") / "frameworks.yaml").read_text("utf-8")
    return catalogue_from_text(text, "built-in frameworks.yaml")


def item(item_id: str) -> Item:
    """One item of the built-in catalogue by id, e.g. ``item("euaia:art15")``."""
    return load_catalogue().item(item_id)


def items(framework: str | None = None, kind: str | None = None) -> list[Item]:
    """Items of the built-in catalogue, optionally of one framework and/or one kind."""
    return load_catalogue().items(framework, kind)


def catalogue_from_text(text: str, origin: str = "catalogue") -> Catalogue:
    """Parse and validate catalogue YAML; ``origin`` names it in error messages."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{origin}: not valid YAML: {exc}") from None
    need_mapping(raw, origin, CatalogueError)
    no_unknown(raw, {"frameworks"}, origin, CatalogueError)
    entries = raw.get("frameworks")
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{origin}: 'frameworks' must be a non-empty list")
    frameworks = tuple(_framework(fw, f"{origin}: frameworks[{i}]") for i, fw in enumerate(entries))
    unique_ids([fw.id for fw in frameworks], f"{origin}: frameworks", "framework id")
    unique_ids([it.id for fw in frameworks for it in fw.items], f"{origin}", "item id")
    return Catalogue(frameworks)


def _framework(raw: Any, where: str) -> Framework:
    need_mapping(raw, where, CatalogueError)
    if isinstance(raw.get("id"), str):
        where = f"{where} ({raw['id']})"
    no_unknown(raw, FRAMEWORK_KEYS, where, CatalogueError)
    _required(raw, FRAMEWORK_REQUIRED, where)
    status = _choice(raw, "status", STATUSES, where)
    source = _source(raw["source"], f"{where}: source")
    if not isinstance(raw["items"], list) or not raw["items"]:
        raise CatalogueError(f"{where}: 'items' must be a non-empty list")
    fw_id = str(raw["id"])
    found = tuple(
        _item(it, fw_id, status, source, f"{where}: items[{i}]")
        for i, it in enumerate(raw["items"])
    )
    return Framework(
        id=fw_id,
        title=str(raw["title"]),
        publisher=str(raw["publisher"]),
        version=str(raw["version"]),
        date=str(raw["date"]),
        status=status,
        source=source,
        items=found,
        notes=str(raw.get("notes") or ""),
    )


def _item(raw: Any, fw_id: str, fw_status: str, fw_source: Source, where: str) -> Item:
    need_mapping(raw, where, CatalogueError)
    if isinstance(raw.get("id"), str):
        where = f"{where} ({raw['id']})"
    no_unknown(raw, ITEM_KEYS, where, CatalogueError)
    _required(raw, ITEM_REQUIRED, where)
    item_id = str(raw["id"])
    if not item_id.startswith(f"{fw_id}:") or item_id == f"{fw_id}:":
        raise CatalogueError(
            f"{where}: id {item_id!r} must start with its framework's prefix {fw_id + ':'!r}"
        )
    kind = _choice(raw, "kind", KINDS, where)
    status = _choice(raw, "status", STATUSES, where) if "status" in raw else fw_status
    source = _source(raw["source"], f"{where}: source") if "source" in raw else fw_source
    return Item(
        id=item_id,
        framework=fw_id,
        title=str(raw["title"]),
        kind=kind,
        summary=" ".join(str(raw["summary"]).split()),
        section=str(raw["section"]),
        status=status,
        source=source,
    )


def _source(raw: Any, where: str) -> Source:
    need_mapping(raw, where, CatalogueError)
    no_unknown(raw, SOURCE_KEYS, where, CatalogueError)
    _required(raw, ("document", "url"), where)
    url = str(raw["url"])
    if not url.startswith("https://"):
        raise CatalogueError(f"{where}: url {url!r} must be an https:// address")
    return Source(document=str(raw["document"]), url=url)


def _choice(raw: Mapping, key: str, allowed: tuple[str, ...], where: str) -> str:
    value = raw.get(key)
    if value not in allowed:
        raise CatalogueError(f"{where}: {key} {value!r} is not one of {list(allowed)}")
    return value


def _required(raw: Mapping, keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if raw.get(key) in (None, ""):
            raise CatalogueError(f"{where}: missing required key {key!r}")


def unique_ids(ids: list[str], where: str, what: str) -> None:
    """Refuse duplicated ids, naming them."""
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise CatalogueError(f"{where}: duplicate {what} {dup}")
