"""What the paged list endpoints share: one page of items as the API answers it."""

from __future__ import annotations

from typing import Any


def page_json(items: list, total: int, limit: int, offset: int, **more: Any) -> dict:
    """A page of ``items`` (``total`` match, this page starts at ``offset``, at most
    ``limit`` long) with ``more`` fields first; ``next_offset`` is the offset of the
    following page, None when this is the last."""
    following = offset + len(items)
    return {
        **more,
        "items": items,
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": following if following < total else None,
    }
