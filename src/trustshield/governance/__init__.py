"""Governance: the catalogue of frameworks, practices and case studies, as data.

The names below are loaded on first use, so importing a governance module (for example
:mod:`trustshield.governance.context`) does not load the catalogue and its spec parser.
"""

__all__ = ["Catalogue", "Framework", "Item", "Source", "item", "items", "load_catalogue"]


def __getattr__(name: str):
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from trustshield.governance.catalogue import (
        Catalogue,
        Framework,
        Item,
        Source,
        item,
        items,
        load_catalogue,
    )

    globals().update(
        Catalogue=Catalogue,
        Framework=Framework,
        Item=Item,
        Source=Source,
        item=item,
        items=items,
        load_catalogue=load_catalogue,
    )
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
