"""Render a TrustShield trust report as one self-contained HTML page.

:func:`render_html` draws the report's typed content
(:class:`trustshield.pipeline.report_sections.ReportContent`, or the plain-JSON dict that is
written as ``report.json``, read with ``ReportContent.from_dict``) through the Jinja2
templates in ``report/templates`` with autoescaping on: inline CSS, inline SVG, no scripts,
no links, no fonts or images fetched from anywhere, so it opens offline and prints.
:func:`write_report` writes ``report.html`` and its JSON twin ``report.json`` atomically.

Conventions the page states and relies on:

* suspicion is a score where higher means more suspicious; a record with
  ``suspicion >= threshold.alert`` raises an alert and one with
  ``threshold.review <= suspicion < threshold.alert`` goes to human review;
* rates (accuracy, FPR, detection rate, ...) are fractions in [0, 1], shown
  as percentages;
* attributions are in the units named by the optional ``attribution_unit`` key
  (default "log-odds"), ``base + sum(contributions) = raw score``; positive
  pushes towards suspicious, negative towards normal.

Every string taken from the report is attacker-influenced (feature names and
values come from network traffic): the templates escape it (autoescaping), and the SVG
charts of :mod:`trustshield.report.svg` escape what they draw. Missing optional sections
render as a short "not evidenced" note; missing required keys raise
:class:`trustshield.errors.DataError` naming the key.
"""

from __future__ import annotations

import json
import math
import os
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Mapping

import jinja2
from markupsafe import Markup

from trustshield.atomic_files import temp_beside
from trustshield.errors import DataError
from trustshield.pipeline.report_sections import REQUIRED_KEYS, ReportContent, require
from trustshield.report import svg
from trustshield.report.changes import compare

__all__ = ["REQUIRED_KEYS", "render_html", "write_report"]

NOT_EVIDENCED = "not evidenced"

_METRICS = (  # key, label, kind, note
    ("accuracy", "Accuracy", "pct", "share of test records classified correctly"),
    ("macro_f1", "Macro F1", "num", "mean F1 of normal and attack classes"),
    ("fpr", "False-positive rate", "pct", "normal records alerted; lower is better"),
    ("detection_rate", "Detection rate", "pct", "attack records alerted (recall)"),
    ("precision", "Precision", "pct", "alerts that are real attacks"),
    ("roc_auc", "ROC AUC", "num", "ranking quality; 0.5 = chance, 1 = perfect"),
    ("review_share", "Review share", "pct", "records sent to human review"),
)

#: headline metric → the Evidence check that holds it to a bar (a card shows that verdict)
METRIC_CHECKS = {"accuracy": "detection", "fpr": "false alarms"}

#: a principle's roll-up status → (symbol, verdict word, css class) in the verdict banner
_PRINCIPLE_VERDICT = {
    "met": ("\u2713", "met", "pass"),
    "not met": ("\u2717", "fails", "fail"),
    "partly met": ("\u2717", "fails", "fail"),
    "not evidenced": ("?", "not evidenced", "not_evidenced"),
    "not applicable": ("\u2013", "not applicable", "other"),
}

_STATUS = {
    "pass": ("\u2713", "pass"),
    "fail": ("\u2717", "fail"),
    "not_evidenced": ("?", "not evidenced"),
}

LEVEL_TEXT = {"none": "none", "moderate": "moderate (PSI ≥ 0.1)", "major": "major (PSI ≥ 0.25)"}
SHOWN_SUBJECTS = 15

_CSS = """
:root { --ink:#1b1f24; --muted:#5b6470; --line:#d9dde3; --bg:#f6f7f9; --pos:#c62828; --neg:#1f5fa8;
        --pass:#1b7f3b; --fail:#b3261e; --ne:#8a6d00; }
* { box-sizing: border-box; }
body { margin:0; color:var(--ink); background:#fff; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; }
main { max-width:1120px; margin:0 auto; padding:24px 32px 48px; }
header.page { border-bottom:3px solid var(--ink); padding-bottom:12px; margin-bottom:8px; }
header.page h1 { margin:0 0 4px; font-size:28px; }
header.page p { margin:2px 0; color:var(--muted); }
section { margin-top:28px; }
h2 { font-size:20px; border-bottom:1px solid var(--line); padding-bottom:4px; margin:0 0 12px; }
h3 { font-size:16px; margin:16px 0 6px; }
table { border-collapse:collapse; width:100%; margin:8px 0; font-size:14px; }
th, td { border-bottom:1px solid var(--line); padding:5px 8px; text-align:left; vertical-align:top; }
th { background:var(--bg); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
code, .mono { font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace; font-size:13px; overflow-wrap:anywhere; }
.cards { display:grid; grid-template-columns:repeat(auto-fill,minmax(200px,1fr)); gap:12px; }
.sha { white-space:nowrap; font-size:12px; }
.card { border:1px solid var(--line); border-radius:6px; padding:10px 14px; background:var(--bg); }
.card .label { font-size:13px; color:var(--muted); font-weight:600; }
.card .value { font-size:26px; font-weight:700; font-variant-numeric:tabular-nums; }
.card .note { font-size:12px; color:var(--muted); }
.note-ne { color:var(--ne); font-style:italic; }
.chart { max-width:100%; height:auto; display:block; margin:8px 0; }
.alert { border:1px solid var(--line); border-left:5px solid var(--pos); border-radius:4px; padding:8px 16px 4px; margin:14px 0; }
.alert .meta { color:var(--muted); font-size:14px; }
.rationale { font-weight:600; margin:6px 0; }
.status { display:inline-block; padding:1px 8px; border-radius:10px; font-weight:600; font-size:13px; color:#fff; white-space:nowrap; }
.status-pass { background:var(--pass); } .status-fail { background:var(--fail); }
.status-not_evidenced { background:var(--ne); } .status-other { background:var(--muted); }
.legend { font-size:13px; color:var(--muted); }
.verdict { border:2px solid var(--line); border-left-width:8px; border-radius:6px; padding:12px 18px; margin-top:16px; }
.verdict h2 { border:0; margin-bottom:6px; }
.verdict-fail { border-color:var(--fail); } .verdict-pass { border-color:var(--pass); } .verdict-open { border-color:var(--ne); }
.verdict-line { font-size:16px; margin:4px 0 8px; }
.verdict-table td { vertical-align:top; }
.failing-list { margin:0; padding-left:18px; }
.figure-fail strong { color:var(--fail); }
.card-fail { border:2px solid var(--fail); background:#fdecea; } .card-fail .value { color:var(--fail); }
.card-pass { border-color:var(--pass); }
.card .bar { font-size:12px; margin:2px 0; }
tr.row-fail td { background:#fdecea; }
.swatch { display:inline-block; width:10px; height:10px; vertical-align:middle; margin:0 3px 0 8px; }
details summary { cursor:pointer; color:var(--muted); }
@media print {
  body { font-size:11pt; } main { max-width:none; padding:0; }
  section, .alert, .card, figure { break-inside:avoid; }
  h2 { break-after:avoid; }
  .card, th { background:#fff; }
  .status, .swatch { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  details > *:not(summary) { display:block; }
}
@page { size: A4; margin:14mm; }
"""


# --- value formats (plain text; the templates escape it) -----------------------------------


def _is_num(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _pct(value: Any) -> str:
    """Fraction in [0, 1] as a percentage; anything else as text, None as n/a."""
    return f"{value:.2%}" if _is_num(value) else ("n/a" if value is None else str(value))


def _num(value: Any, spec: str = ".4g") -> str:
    return format(value, spec) if _is_num(value) else ("n/a" if value is None else str(value))


def _int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _num(value)


def _no_scheme(url: Any) -> str:
    """``https://host/path`` as ``host/path``: text to read, never a link to follow."""
    return re.sub(
        r"^[a-z][a-z0-9+.-]*://", "", str(url if url is not None else ""), flags=re.IGNORECASE
    )


def _dataset(d: Any) -> dict:
    """A provenance row: its fields as text ("" when missing); a bare name as its name."""
    d = d if isinstance(d, Mapping) else {"name": d}
    return {
        **{k: d.get(k, "") for k in ("role", "name", "path", "sha256")},
        "rows": d.get("rows"),
        "rejected_rows": d.get("rejected_rows"),
    }


def _by_records(attacks: Any) -> list:
    """Per-attack rows, most test records first, then by name."""
    return sorted(
        attacks, key=lambda a: (-(a.records if _is_num(a.records) else 0), str(a.attack or ""))
    )


def _most_rejected(per_subject: Any) -> list:
    """The ``SHOWN_SUBJECTS`` subjects with the highest false-rejection rate before mitigation."""
    return sorted(per_subject or (), key=lambda row: -(row.get("frr_before") or 0))[:SHOWN_SUBJECTS]


def _status_badge(status: Any) -> tuple[str, str, str]:
    """(symbol, text, css class) of an evidence status: text as well as colour."""
    status = "" if status is None else str(status)
    symbol, text = _STATUS.get(status, ("\u2022", status or "unknown"))
    return symbol, text, status if status in _STATUS else "other"


def _checks_text(practice: Mapping) -> str:
    return "; ".join(f"{c}: {v}" for c, v in practice["checks"].items()) or practice.get(
        "reason", ""
    )


def _failed(evidence: Any) -> list:
    """The Evidence rows whose verdict is ``fail``, in report order."""
    return [e for e in evidence or () if getattr(e, "status", None) == "fail"]


def _check_row(evidence: Any, check: str) -> Any:
    """The Evidence row of ``check`` that decides its verdict (a failed measurement wins
    over a passed one, a measured one over an unmeasured one); None when absent."""
    rows = [e for e in evidence or () if getattr(e, "check", None) == check]
    for status in ("fail", "pass"):
        for e in rows:
            if e.status == status:
                return e
    return rows[0] if rows else None


def _metric_verdict(evidence: Any, metric: str) -> Any:
    """The Evidence row holding headline ``metric`` to its bar (see METRIC_CHECKS)."""
    check = METRIC_CHECKS.get(metric)
    return _check_row(evidence, check) if check else None


def _bar(value: Any, threshold: Any, status: Any) -> str:
    """The bar's direction as a sign before it: ``≤`` when the value must stay at or under
    it, ``≥`` when it must reach it, told from the verdict and which side the value is on;
    empty when that cannot be told (the value on the bar)."""
    if not (_is_num(value) and _is_num(threshold)) or value == threshold:
        return ""
    above = value > threshold
    if status == "fail":
        return "\u2264" if above else "\u2265"
    if status == "pass":
        return "\u2265" if above else "\u2264"
    return ""


def _verdict(r: ReportContent) -> dict:
    """What the verdict banner says: each principle of the roll-up (when the report has
    one) with its failed checks, and every failed check of the report."""
    failed = [
        {"check": e.check, "metric": e.metric, "value": e.value, "threshold": e.threshold}
        for e in _failed(r.evidence)
    ]
    principles = []
    for p in (r.governance or {}).get("principles", ()):
        symbol, word, cls = _PRINCIPLE_VERDICT.get(p.get("status"), ("?", p.get("status"), "other"))
        failing = list(p.get("failing") or ())
        if p.get("status") == "partly met" and not failing:  # nothing failed, some unmeasured
            symbol, word, cls = "?", "partly evidenced", "not_evidenced"
        principles.append(
            {
                "title": p.get("title") or p.get("item"),
                "status": p.get("status"),
                "symbol": symbol,
                "word": word,
                "cls": cls,
                "failing": failing,
            }
        )
    return {
        "principles": principles,
        "met": [p for p in principles if p["cls"] == "pass"],
        "failing": [p for p in principles if p["cls"] == "fail"],
        "open": [p for p in principles if p["cls"] not in ("pass", "fail")],
        "failed_checks": failed,
    }


def _svg(draw):
    """An SVG chart function of :mod:`trustshield.report.svg` returning template markup
    (the chart escapes its own text)."""
    return lambda *args, **kwargs: Markup(draw(*args, **kwargs))


def _attribution(alert_id: Any, base: float, contributions: Any, unit: str) -> Markup:
    return Markup(
        svg.attribution_chart(base, contributions, unit=unit, title=svg.attribution_title(alert_id))
    )


_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("trustshield.report", "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_templates.filters.update(
    pct=_pct,
    num=_num,
    integer=_int,
    no_scheme=_no_scheme,
    dataset=_dataset,
    json=lambda v: json.dumps(v, default=str),
    or_text=lambda v, default: default if v is None else v,
    or_zero=lambda v: v or 0.0,
)
_templates.globals.update(
    css=Markup(_CSS),
    METRICS=_METRICS,
    NOT_EVIDENCED=NOT_EVIDENCED,
    LEVEL_TEXT=LEVEL_TEXT,
    POSITIVE=svg.POSITIVE,
    NEGATIVE=svg.NEGATIVE,
    by_records=_by_records,
    most_rejected=_most_rejected,
    status_badge=_status_badge,
    bar_sign=_bar,
    metric_verdict=_metric_verdict,
    check_row=_check_row,
    verdict=_verdict,
    checks_text=_checks_text,
    bar_chart=_svg(svg.bar_chart),
    line_chart=_svg(svg.line_chart),
    confusion_heat=_svg(svg.confusion_heat),
    attribution_chart=_attribution,
)


def render_html(report: ReportContent | dict) -> str:
    """Return the trust report as one self-contained HTML page (str).

    ``report`` is the typed content or its plain-JSON dict (see module docstring and
    ``report.json``). Required keys: ``model`` (with ``model_id``), ``datasets``,
    ``protocol``, ``metrics``; a missing one raises :class:`DataError` naming it. Optional
    sections that are absent or empty render as a "not evidenced" note, except
    ``per_attack``, whose section is left out when the key is absent. The page has no
    scripts and no external references; every data string is HTML-escaped.
    """
    content = report if isinstance(report, ReportContent) else ReportContent.from_dict(report)
    return _templates.get_template("report.html").render(
        r=content, unit=content.attribution_unit or "log-odds"
    )


def _atomic_texts(pairs: list[tuple[Path, str]]) -> None:
    """Write every (path, text) to a temp file beside it, then os.replace each into place.

    All temp files are complete and fsynced before the first replace, so an
    error while writing leaves every target as it was; temp files are removed
    on failure.
    """
    with ExitStack() as stack:
        temps = []
        for path, text in pairs:
            tmp = stack.enter_context(temp_beside(path))
            temps.append((tmp, path))
            with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in temps:
            os.replace(tmp, path)


def _previous(path: Path) -> Any:
    """The report JSON at ``path``; None when there is none; ``{}`` when it cannot be read."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}


def write_report(
    report: ReportContent | dict, out_dir: str | os.PathLike[str]
) -> tuple[Path, Path]:
    """Write ``out_dir/report.html`` and its JSON twin ``out_dir/report.json``.

    Both texts are built in memory first (the JSON with ``indent=2,
    sort_keys=True`` and strict JSON: NaN/infinity are refused), so a report
    that cannot be rendered or serialised raises :class:`DataError` and
    leaves existing files untouched. Each file is written to a temp file in
    ``out_dir`` and moved into place with ``os.replace``. Creates ``out_dir``
    if needed. Returns ``(html_path, json_path)``.

    The ``report.json`` already in ``out_dir`` (if any) is read first and compared with
    this one (:func:`trustshield.report.changes.compare`); the result is set as
    ``report["changes"]`` (replacing any earlier value) before anything is rendered; typed
    content is written as its ``as_dict()``, which gets the ``changes``.
    """
    report = report.as_dict() if isinstance(report, ReportContent) else report
    require(report)
    report["changes"] = compare(_previous(Path(out_dir) / "report.json"), report)
    page = render_html(report)
    try:
        twin = json.dumps(report, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise DataError(f"report cannot be written as JSON: {exc}") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / "report.html", out / "report.json"
    _atomic_texts([(html_path, page), (json_path, twin)])
    return html_path, json_path
