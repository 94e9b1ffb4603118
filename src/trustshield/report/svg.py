"""Inline SVG charts for the trust report: pure functions, data in, SVG text out.

Every function returns one ``<svg>`` element meant to be pasted into an HTML5
page (no ``xmlns``, no external references, no scripts). The first child is a
``<title>`` so screen readers get a name for the chart. Sizes are SVG user
units (pixels at 100 % zoom); the element carries a ``viewBox`` and scales down
to its container.

Every string drawn comes from data and is attacker-influenced, so it goes
through :func:`html.escape` here; callers pass raw strings, never pre-escaped
ones. Numbers must be finite: a NaN or infinity raises
:class:`trustshield.errors.DataError` rather than drawing a silent gap.

Colours of the signed attribution chart: red (:data:`POSITIVE`) pushes the
suspicion score up, towards "suspicious"; blue (:data:`NEGATIVE`) pushes it
down, towards "normal". Higher suspicion always means more suspicious.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, Callable, Sequence

from trustshield.errors import DataError

POSITIVE = "#c62828"  # contribution > 0: towards suspicious
NEGATIVE = "#1f5fa8"  # contribution < 0: towards normal
BAR = "#37617f"  # neutral bars (detection rate, importance)
CURVE = "#c62828"
GRID = "#d9dde3"
INK = "#1b1f24"
MUTED = "#5b6470"
#: attribution bars drawn before the rest is folded into one "other N features" bar
TOP_FEATURES = 10


def _e(text: Any) -> str:
    """Escape any value for use as SVG text or attribute content."""
    return escape(str(text), quote=True)


def _clip(text: Any, limit: int = 44) -> str:
    """Shorten to ``limit`` characters (with an ellipsis) *before* escaping."""
    s = str(text)
    return s if len(s) <= limit else s[: limit - 1] + "\u2026"


def _f(value: Any, what: str) -> float:
    """``value`` as a finite float, or DataError naming ``what``."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be a number; got {value!r}") from None
    if not math.isfinite(x):
        raise DataError(f"{what} must be finite; got {value!r}")
    return x


def _n(x: float) -> str:
    """Compact coordinate text (two decimals, no trailing zeros)."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _minus(text: str) -> str:
    """Typographic minus sign for number text."""
    return text.replace("-", "\u2212")


def _signed(x: float) -> str:
    """``+0.412`` / ``\u22120.125``: the sign is spelled out, never left to colour."""
    return ("+" if x >= 0 else "\u2212") + f"{abs(x):.3g}"


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering ``[lo, hi]`` with about ``count`` steps."""
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step + 1e-9) * step
    ticks, t = [], start
    while t <= hi + step * 1e-6:
        ticks.append(round(t, 10))
        t += step
    if ticks[-1] < hi - step * 1e-6:
        ticks.append(round(t, 10))
    return ticks


def _open(width: int, height: int, title: str, cls: str) -> str:
    """Opening ``<svg>`` tag plus accessible ``<title>``."""
    return (
        f'<svg class="chart {cls}" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{_e(title)}" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif" '
        f'font-size="12" fill="{INK}"><title>{_e(title)}</title>'
    )


def line_chart(
    xs: Sequence[float],
    ys: Sequence[float],
    *,
    title: str,
    x_label: str,
    y_label: str,
    marker: tuple[float, float] | None = None,
    marker_label: str = "",
    diagonal: bool = False,
    width: int = 520,
    height: int = 420,
) -> str:
    """Line through ``(xs[i], ys[i])`` on unit axes, e.g. a ROC curve.

    Both axes are fractions in [0, 1] (ROC: x = false-positive rate, y = true
    positive rate), drawn with ticks every 0.2 shown as percentages. The curve
    is one ``<polyline class="curve">`` with exactly ``len(xs)`` points, in the
    given order. ``diagonal`` adds the dashed chance line y = x; ``marker``
    (x, y) draws a labelled dot, e.g. the operating point of the threshold.
    """
    if len(xs) != len(ys) or not xs:
        raise DataError(f"{title}: need equal, non-empty x and y; got {len(xs)} and {len(ys)}")
    pts = [
        (_f(x, f"{title} x[{i}]"), _f(y, f"{title} y[{i}]")) for i, (x, y) in enumerate(zip(xs, ys))
    ]
    if any(not (-1e-9 <= v <= 1 + 1e-9) for p in pts for v in p):
        raise DataError(f"{title}: x and y must lie in [0, 1]")
    left, top, right, bottom = 64, 14, 18, 52
    pw, ph = width - left - right, height - top - bottom
    sx = lambda x: left + x * pw  # noqa: E731
    sy = lambda y: top + (1 - y) * ph  # noqa: E731
    out = [
        _open(width, height, title, "line-chart"),
        _unit_axes(sx, sy, x_label, y_label, width, height),
    ]
    if diagonal:
        out.append(
            f'<line x1="{_n(sx(0))}" y1="{_n(sy(0))}" x2="{_n(sx(1))}" y2="{_n(sy(1))}" '
            f'stroke="{MUTED}" stroke-dasharray="5 4"><title>chance (random ranking)</title></line>'
        )
    coords = " ".join(f"{_n(sx(x))},{_n(sy(y))}" for x, y in pts)
    out.append(
        f'<polyline class="curve" points="{coords}" fill="none" stroke="{CURVE}" stroke-width="2.2"/>'
    )
    if marker is not None:
        mx, my = _f(marker[0], f"{title} marker x"), _f(marker[1], f"{title} marker y")
        anchor = "start" if mx < 0.6 else "end"
        dx = 9 if anchor == "start" else -9
        out.append(
            f'<circle cx="{_n(sx(mx))}" cy="{_n(sy(my))}" r="5.5" fill="{INK}" stroke="#fff" stroke-width="1.5">'
            f"<title>{_e(marker_label)}</title></circle>"
        )
        out.append(
            f'<text x="{_n(sx(mx) + dx)}" y="{_n(sy(my) + 16)}" text-anchor="{anchor}" '
            f'font-weight="600">{_e(marker_label)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _unit_axes(sx, sy, x_label: str, y_label: str, width: int, height: int) -> str:
    """Grid, ticks (0 %..100 % every 20 %) and axis titles for unit axes."""
    parts = []
    for i in range(6):
        v = i / 5
        parts.append(
            f'<line x1="{_n(sx(v))}" y1="{_n(sy(0))}" x2="{_n(sx(v))}" y2="{_n(sy(1))}" stroke="{GRID}"/>'
        )
        parts.append(
            f'<line x1="{_n(sx(0))}" y1="{_n(sy(v))}" x2="{_n(sx(1))}" y2="{_n(sy(v))}" stroke="{GRID}"/>'
        )
        parts.append(
            f'<text x="{_n(sx(v))}" y="{_n(sy(0) + 17)}" text-anchor="middle" fill="{MUTED}">{i * 20}%</text>'
        )
        parts.append(
            f'<text x="{_n(sx(0) - 7)}" y="{_n(sy(v) + 4)}" text-anchor="end" fill="{MUTED}">{i * 20}%</text>'
        )
    parts.append(
        f'<rect x="{_n(sx(0))}" y="{_n(sy(1))}" width="{_n(sx(1) - sx(0))}" '
        f'height="{_n(sy(0) - sy(1))}" fill="none" stroke="{MUTED}"/>'
    )
    parts.append(
        f'<text x="{_n((sx(0) + sx(1)) / 2)}" y="{height - 10}" text-anchor="middle" '
        f'font-weight="600">{_e(x_label)}</text>'
    )
    cy = (sy(0) + sy(1)) / 2
    parts.append(
        f'<text x="16" y="{_n(cy)}" text-anchor="middle" font-weight="600" '
        f'transform="rotate(-90 16 {_n(cy)})">{_e(y_label)}</text>'
    )
    return "".join(parts)


def bar_chart(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str,
    value_label: str,
    percent: bool = False,
    max_value: float | None = None,
    width: int = 720,
) -> str:
    """Horizontal bars, one per label, drawn top to bottom in the given order.

    ``values`` must be finite and >= 0 (detection rates in [0, 1] with
    ``percent=True`` and ``max_value=1``; or mean |attribution| in score
    units). The x axis runs from 0 to ``max_value`` (default: a round number
    above the largest value) with ticks, titled ``value_label``. Each bar ends
    in its value as text, so the chart reads without colour.
    """
    if len(labels) != len(values):
        raise DataError(f"{title}: {len(labels)} labels but {len(values)} values")
    vals = [_f(v, f"{title} value for {_clip(lab)!r}") for lab, v in zip(labels, values)]
    if any(v < 0 for v in vals):
        raise DataError(f"{title}: bar values must be >= 0")
    fmt = (lambda v: f"{v:.1%}") if percent else (lambda v: f"{v:.3g}")
    ticks = nice_ticks(0.0, max_value if max_value is not None else max(vals, default=0.0) or 1.0)
    top_v = ticks[-1]
    left, right, row, top = 230, 60, 24, 8
    pw, height = width - left - right, top + row * len(vals) + 50
    sx = lambda v: left + v / top_v * pw  # noqa: E731
    out = [_open(width, height, title, "bar-chart")]
    base_y = top + row * len(vals)
    for t in ticks:
        out.append(
            f'<line x1="{_n(sx(t))}" y1="{top}" x2="{_n(sx(t))}" y2="{base_y}" stroke="{GRID}"/>'
            f'<text x="{_n(sx(t))}" y="{base_y + 16}" text-anchor="middle" fill="{MUTED}">{_e(fmt(t) if percent else f"{t:g}")}</text>'
        )
    for i, (lab, v) in enumerate(zip(labels, vals)):
        y = top + i * row
        out.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{_e(_clip(lab, 32))}<title>{_e(lab)}</title></text>'
            f'<rect x="{left}" y="{y + 4}" width="{_n(max(sx(v) - left, 0))}" height="{row - 8}" fill="{BAR}">'
            f"<title>{_e(lab)}: {_e(fmt(v))}</title></rect>"
            f'<text x="{_n(sx(v) + 5)}" y="{y + 16}" fill="{INK}">{_e(fmt(v))}</text>'
        )
    out.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{base_y}" stroke="{MUTED}"/>'
        f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" font-weight="600">{_e(value_label)}</text></svg>'
    )
    return "".join(out)


def _heat(fraction: float) -> tuple[str, str]:
    """Cell fill for a row share in [0, 1] (white to dark blue) and a readable ink."""
    f = min(max(fraction, 0.0), 1.0)
    r, g, b = (round(255 + (c - 255) * f) for c in (31, 78, 121))
    return f"#{r:02x}{g:02x}{b:02x}", ("#ffffff" if f > 0.5 else INK)


def confusion_heat(labels: Sequence[Any], matrix: Sequence[Sequence[int]], *, title: str) -> str:
    """Confusion matrix as a shaded table: rows = true class, columns = predicted.

    ``matrix[i][j]`` counts records of true class ``labels[i]`` predicted as
    ``labels[j]`` (for ["normal", "attack"]: [[TN, FP], [FN, TP]]). Each cell
    shows the count and its share of the row; the shade follows the row share,
    and the text carries the same information, so colour is never needed.
    """
    k = len(labels)
    if k == 0 or len(matrix) != k or any(len(r) != k for r in matrix):
        raise DataError(f"{title}: matrix must be {k}x{k} to match labels {list(labels)!r}")
    counts = [
        [_f(c, f"{title} cell [{i}][{j}]") for j, c in enumerate(r)] for i, r in enumerate(matrix)
    ]
    cell_w, cell_h, left, top = 150, 64, 130, 52
    width, height = left + cell_w * k + 12, top + cell_h * k + 12
    out = [
        _open(width, height, title, "confusion"),
        f'<text x="{left + cell_w * k / 2}" y="16" text-anchor="middle" font-weight="600">predicted class \u2192</text>',
        f'<text x="10" y="{top - 10}" font-weight="600">true class \u2193</text>',
    ]
    for j, lab in enumerate(labels):
        out.append(
            f'<text x="{left + cell_w * j + cell_w / 2}" y="{top - 10}" text-anchor="middle">{_e(_clip(lab, 20))}</text>'
        )
    for i, row in enumerate(counts):
        total, lab, y = sum(row), labels[i], top + cell_h * i
        out.append(
            f'<text x="{left - 10}" y="{y + cell_h / 2 + 4}" text-anchor="end">{_e(_clip(lab, 16))}</text>'
        )
        for j, c in enumerate(row):
            share = c / total if total else 0.0
            fill, ink = _heat(share)
            x = left + cell_w * j
            out.append(
                f'<rect x="{x}" y="{y}" width="{cell_w}" height="{cell_h}" fill="{fill}" stroke="#fff" stroke-width="2">'
                f"<title>true {_e(lab)}, predicted {_e(labels[j])}: {c:,.0f} ({share:.1%} of row)</title></rect>"
                f'<text x="{x + cell_w / 2}" y="{y + 28}" text-anchor="middle" font-size="18" font-weight="600" fill="{ink}">{c:,.0f}</text>'
                f'<text x="{x + cell_w / 2}" y="{y + 47}" text-anchor="middle" fill="{ink}">{share:.1%} of row</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _value_text(value: Any) -> str:
    """Feature value as short text: floats to 4 significant digits, rest via str()."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "null" if value is None else str(value)


def attribution_label(feature: Any, value: Any) -> str:
    """A bar's label: ``feature = value`` (floats to 4 significant digits)."""
    return f"{feature} = {_value_text(value)}"


def _attribution_rows(
    contributions: Sequence[Any], title: str, top_k: int
) -> tuple[list[tuple[str, float]], float]:
    """(label, contribution) rows sorted by |contribution| desc, top_k kept, the rest
    folded into one "other N features" row; and the sum of all contributions."""
    rows = []
    for c in contributions:
        if not isinstance(c, dict):
            if not hasattr(c, "contribution"):
                raise DataError(f"{title}: each contribution must be an object; got {c!r}")
            c = {"feature": c.feature, "value": c.value, "contribution": c.contribution}
        v = _f(c.get("contribution"), f"{title} contribution of {_clip(c.get('feature'))!r}")
        rows.append((attribution_label(c.get("feature", "?"), c.get("value")), v))
    rows.sort(key=lambda r: -abs(r[1]))
    shown, rest = rows[:top_k], rows[top_k:]
    if rest:
        shown.append((f"other {len(rest)} features (combined)", sum(v for _, v in rest)))
    return shown, sum(v for _, v in rows)


def attribution_title(alert_id: Any) -> str:
    """The accessible name of an alert's attribution chart (report and dashboard alike)."""
    return f"Why alert {alert_id} was raised: feature contributions"


def attribution_chart(
    base: float,
    contributions: Sequence[Any],
    *,
    title: str,
    unit: str = "log-odds",
    top_k: int = TOP_FEATURES,
    width: int = 760,
) -> str:
    """Signed horizontal bars explaining one score: ``base + sum(contributions) = total``.

    The one attribution chart of TrustShield: the trust report's example alerts and the
    dashboard's alert page both draw it. ``contributions`` are objects with ``feature``,
    ``value`` and ``contribution`` (a float in score units, ``unit``), as dicts or as
    attributes. The ``top_k`` largest by |contribution| are drawn, largest first; the rest
    are folded into one "other N features" bar so the bars still add up to the total.
    Positive bars (``rect.positive``) are red and point right (towards suspicious),
    negative bars (``rect.negative``) blue and point left (towards normal), zero bars
    (``rect.zero``) grey; every bar is labelled "feature = value" (``text.label``) and with
    its signed size (``text.value``). The footer states the base value, the sum and the
    total raw score.
    """
    b = _f(base, f"{title} base")
    shown, total = _attribution_rows(contributions, title, top_k)
    label_w, row, top = 300, 24, 26
    plot_l, plot_r = label_w + 10, width - 70
    axis_y = top + row * max(len(shown), 1)
    span = max([abs(v) for _, v in shown] + [1e-9])
    ticks = nice_ticks(-span, span, 10)
    lim = max(abs(ticks[0]), abs(ticks[-1]))
    sx = lambda v: plot_l + (v + lim) / (2 * lim) * (plot_r - plot_l)  # noqa: E731
    out = [
        _open(width, axis_y + 64, title, "attribution"),
        f'<text x="{_n(sx(0) - 6)}" y="14" text-anchor="end" fill="{NEGATIVE}">\u2190 towards normal</text>'
        f'<text x="{_n(sx(0) + 6)}" y="14" fill="{POSITIVE}">towards suspicious \u2192</text>',
    ]
    for t in ticks:
        out.append(
            f'<line x1="{_n(sx(t))}" y1="{top}" x2="{_n(sx(t))}" y2="{axis_y}" stroke="{GRID}"/>'
            f'<text x="{_n(sx(t))}" y="{axis_y + 15}" text-anchor="middle" fill="{MUTED}">{_minus(f"{t:g}")}</text>'
        )
    for i, (label, v) in enumerate(shown):
        y, pos = top + i * row, v > 0
        sign = _SIGNS[(v > 0) - (v < 0)]
        x0, x1 = sorted((sx(0), sx(v)))
        tip = f"{_e(label)}: {_signed(v)} {_e(unit)} ({'towards suspicious' if pos else 'towards normal'})"
        out.append(
            f'<text class="label" x="{label_w}" y="{y + 16}" text-anchor="end">{_e(_clip(label))}<title>{_e(label)}</title></text>'
            f'<rect class="{sign}" x="{_n(x0)}" y="{y + 4}" width="{_n(max(x1 - x0, 1))}" '
            f'height="{row - 8}" fill="{_FILLS[sign]}"><title>{tip}</title></rect>'
            f'<text class="value" x="{_n(x1 + 4 if pos else x0 - 4)}" y="{y + 16}" text-anchor="{"start" if pos else "end"}" '
            f'font-size="11">{_signed(v)}</text>'
        )
    mid = _n((plot_l + plot_r) / 2)
    out.append(
        f'<line x1="{_n(sx(0))}" y1="{top - 4}" x2="{_n(sx(0))}" y2="{axis_y}" stroke="{INK}"/>'
        f'<text x="{mid}" y="{axis_y + 32}" text-anchor="middle" font-weight="600">'
        f"contribution to raw score ({_e(unit)})</text>"
        f'<text class="totals" x="{mid}" y="{axis_y + 52}" text-anchor="middle">base value {_minus(f"{b:.4g}")} + '
        f"contributions ({_signed(total)}) = raw score {_minus(f'{b + total:.4g}')} {_e(unit)}</text></svg>"
    )
    return "".join(out)


_SIGNS = {1: "positive", -1: "negative", 0: "zero"}
_FILLS = {"positive": POSITIVE, "negative": NEGATIVE, "zero": MUTED}


#: a column chart's margins (px): left, right, top, bottom
_COLUMN_MARGINS = (46, 12, 10, 34)


def _column_frame(
    width: int, height: int, title: str, cls: str, heights: Sequence[float]
) -> tuple[list[str], float, Callable[[float], float]]:
    """The start of a column chart of one column per value of ``heights`` (>= 0): the
    opened ``<svg>`` with its y gridlines from 0 to a round number above the largest, the
    width of a column's slot (px) and the y (px) of a value."""
    ticks = nice_ticks(0.0, max(heights, default=0.0) or 1.0, 3)
    top_v = ticks[-1]
    left, right, top, bottom = _COLUMN_MARGINS
    pw, ph = width - left - right, height - top - bottom
    step = pw / max(len(heights), 1)

    def sy(v: float) -> float:
        return top + ph - v / top_v * ph

    out = [_open(width, height, title, cls)]
    for t in ticks:
        out.append(
            f'<line x1="{left}" y1="{_n(sy(t))}" x2="{width - right}" y2="{_n(sy(t))}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{_n(sy(t) + 4)}" text-anchor="end" '
            f'fill="{MUTED}">{_e(f"{t:g}")}</text>'
        )
    return out, step, sy


def _column_axis(width: int, height: int) -> str:
    """The x axis that closes a column chart, and the ``</svg>``."""
    left, right, top, bottom = _COLUMN_MARGINS
    ph = height - top - bottom
    return (
        f'<line x1="{left}" y1="{top + ph}" x2="{width - right}" y2="{top + ph}" '
        f'stroke="{MUTED}"/></svg>'
    )


def column_chart(
    labels: Sequence[Any],
    values: Sequence[float],
    *,
    title: str,
    links: Sequence[str] | None = None,
    width: int = 720,
    height: int = 150,
) -> str:
    """Vertical columns, one per label, left to right in the given order (counts over
    time: one column per hour). ``values`` finite and >= 0; the y axis runs from 0 to a
    round number above the largest. Each column carries its label and value as a tooltip
    (``<title>``); with ``links`` (one URL per column) a column is a link, its ``<a>`` of
    class ``bucket`` with ``data-label`` holding the label. The first and last labels (and
    about eight between) are written under the axis."""
    if len(labels) != len(values) or (links is not None and len(links) != len(values)):
        raise DataError(f"{title}: {len(labels)} labels but {len(values)} values")
    vals = [_f(v, f"{title} value for {_clip(lab)!r}") for lab, v in zip(labels, values)]
    if any(v < 0 for v in vals):
        raise DataError(f"{title}: column values must be >= 0")
    out, step, sy = _column_frame(width, height, title, "column-chart", vals)
    left, _, top, bottom = _COLUMN_MARGINS
    ph = height - top - bottom
    every = max(1, math.ceil(len(vals) / 8))
    for i, (lab, v) in enumerate(zip(labels, vals)):
        x, y = left + i * step, sy(v)
        bar = (
            f'<rect x="{_n(x + step * 0.1)}" y="{_n(y)}" width="{_n(max(step * 0.8, 1))}" '
            f'height="{_n(top + ph - y)}" fill="{BAR}"><title>{_e(lab)}: {_e(f"{v:g}")}'
            "</title></rect>"
        )
        if links is not None:
            bar = f'<a class="bucket" href="{_e(links[i])}" data-label="{_e(lab)}">{bar}</a>'
        out.append(bar)
        last = i == len(vals) - 1 and i % every >= every / 2  # clear of the one before
        if i % every == 0 or last:
            out.append(
                f'<text x="{_n(x + step / 2)}" y="{height - bottom + 16}" text-anchor="middle" '
                f'fill="{MUTED}">{_e(_clip(lab, 16))}</text>'
            )
    out.append(_column_axis(width, height))
    return "".join(out)


def timeline_chart(
    labels: Sequence[Any],
    total: Sequence[float],
    highlighted: Sequence[float],
    *,
    title: str,
    width: int = 720,
    height: int = 170,
) -> str:
    """Counts over time with a highlighted part: one column per label (a time bucket, left
    to right), ``total`` in the neutral colour and, drawn over it from the axis up,
    ``highlighted`` (a part of it, ``0 <= highlighted <= total``, e.g. the evidence flows
    among a host's connections) in :data:`POSITIVE`. Columns with highlighted counts are of
    class ``evidence``; each carries both counts as a tooltip."""
    if not (len(labels) == len(total) == len(highlighted)):
        raise DataError(
            f"{title}: {len(labels)} labels, {len(total)} totals, {len(highlighted)} parts"
        )
    tot = [_f(v, f"{title} total for {_clip(lab)!r}") for lab, v in zip(labels, total)]
    part = [_f(v, f"{title} part for {_clip(lab)!r}") for lab, v in zip(labels, highlighted)]
    if any(p < 0 or p > t for p, t in zip(part, tot)):
        raise DataError(f"{title}: each highlighted count must be between 0 and its total")
    out, step, sy = _column_frame(width, height, title, "timeline-chart", tot)
    left, _, top, bottom = _COLUMN_MARGINS
    ph = height - top - bottom
    every = max(1, math.ceil(len(tot) / 6))
    bar_w = _n(max(step * 0.8, 1))
    for i, (lab, t, p) in enumerate(zip(labels, tot, part)):
        x = _n(left + i * step + step * 0.1)
        tip = f"{lab}: {t:g} connections, {p:g} evidence"
        out.append(
            f'<g class="bucket{" evidence" if p > 0 else ""}"><title>{_e(tip)}</title>'
            f'<rect x="{x}" y="{_n(sy(t))}" width="{bar_w}" height="{_n(top + ph - sy(t))}" '
            f'fill="{GRID}"/>'
            + (
                f'<rect x="{x}" y="{_n(sy(p))}" width="{bar_w}" height="{_n(top + ph - sy(p))}" '
                f'fill="{POSITIVE}"/>'
                if p > 0
                else ""
            )
            + "</g>"
        )
        if i % every == 0:
            out.append(
                f'<text x="{_n(left + i * step + step / 2)}" y="{height - bottom + 16}" '
                f'text-anchor="middle" fill="{MUTED}">{_e(_clip(lab, 16))}</text>'
            )
    out.append(_column_axis(width, height))
    return "".join(out)
