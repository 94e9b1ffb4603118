"""The geometry of an alert's attribution bar chart, drawn by the dashboard as inline SVG.

One bar per feature for the ``top`` features by |contribution|, then one ``others`` bar for
the sum of the rest (only when there is a rest). Bars grow from a zero line: right for a
positive contribution (towards suspicious), left for a negative one; lengths are
proportional to |contribution|, the longest filling its half of the plot. Coordinates are
SVG user units (pixels at 100 % zoom).
"""

from __future__ import annotations

from collections.abc import Sequence

TOP = 15
WIDTH = 760
ROW = 24          # height of one row; a bar is BAR tall, centred in its row
BAR = 16
LABEL_END = 250   # feature labels are right-aligned here
PLOT = (260, 640)  # x range of the bars; the zero line is in the middle
OTHERS = "others"


def attribution_chart(attributions: Sequence[dict], *, top: int = TOP) -> dict:
    """``attributions``: [{feature, value, contribution}] in any order.

    Returns {width, height, zero_x, bars: [{label, contribution, sign, x, y, width,
    text_y}]} with ``sign`` "positive", "negative" or "zero", ``label`` "feature = value"
    (``others (n features)`` for the rest), bars ordered by |contribution|, largest first.
    """
    ranked = sorted(attributions, key=lambda a: -abs(float(a["contribution"])))
    rows = [(f"{a['feature']} = {a['value']}", float(a["contribution"])) for a in ranked[:top]]
    rest = ranked[top:]
    if rest:
        rows.append((f"{OTHERS} ({len(rest)} features)",
                     sum(float(a["contribution"]) for a in rest)))
    zero_x = (PLOT[0] + PLOT[1]) / 2
    half = (PLOT[1] - PLOT[0]) / 2
    largest = max((abs(c) for _, c in rows), default=0.0) or 1.0
    bars = []
    for k, (label, contribution) in enumerate(rows):
        length = half * abs(contribution) / largest
        y = 8 + k * ROW + (ROW - BAR) / 2
        bars.append({"label": label, "contribution": contribution, "sign": _sign(contribution),
                     "x": round(zero_x - length if contribution < 0 else zero_x, 2),
                     "y": round(y, 2), "width": round(length, 2), "height": BAR,
                     "text_y": round(y + BAR - 4, 2)})
    return {"width": WIDTH, "height": 16 + ROW * len(rows), "zero_x": zero_x,
            "label_end": LABEL_END, "value_x": PLOT[1] + 10, "bars": bars}


def _sign(value: float) -> str:
    return "positive" if value > 0 else "negative" if value < 0 else "zero"
