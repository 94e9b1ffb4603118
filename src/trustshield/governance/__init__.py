"""Governance: the catalogue of frameworks, practices and case studies, as data."""

from trustshield.governance.catalogue import (Catalogue, Framework, Item, Source, item, items,
                                              load_catalogue)

__all__ = ["Catalogue", "Framework", "Item", "Source", "item", "items", "load_catalogue"]
