"""The report's HTML building blocks (escaping, number formats, sections, tables), shared by
:mod:`trustshield.report.html` and :mod:`trustshield.report.drift_section`."""

from __future__ import annotations

import math
from html import escape
from typing import Any

NOT_EVIDENCED = "not evidenced"


def _e(value: Any) -> str:
    """Escape any value for HTML text or attribute content."""
    return escape(str(value), quote=True)


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pct(value: Any) -> str:
    """Fraction in [0, 1] as a percentage; anything else as escaped text or n/a."""
    return f"{value:.2%}" if _is_num(value) else ("n/a" if value is None else _e(value))


def _num(value: Any, spec: str = ".4g") -> str:
    return format(value, spec) if _is_num(value) else ("n/a" if value is None else _e(value))


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _num(value)


def _not_evidenced(what: str) -> str:
    return f'<p class="note-ne">{_e(what)}: {NOT_EVIDENCED} in this report.</p>'


def _section(sid: str, heading: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(heading)}</h2>\n{body}\n</section>'


def _table(headers: list[tuple[str, str]], rows: list[list[str]], caption: str = "") -> str:
    """Table from (header text, css class) pairs and rows of already-escaped cells."""
    cap = f"<caption class=\"legend\">{_e(caption)}</caption>" if caption else ""
    head = "".join(f'<th scope="col" class="{c}">{_e(h)}</th>' for h, c in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="{c}">{cell}</td>' for (_, c), cell in zip(headers, row)) + "</tr>" for row in rows
    )
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
