"""Render a TrustShield trust report dict as one self-contained HTML page.

:func:`render_html` turns the report dict (the same plain-JSON structure that
is written as ``report.json``) into a single page: inline CSS, inline SVG, no
scripts, no links, no fonts or images fetched from anywhere, so it opens
offline and prints. :func:`write_report` writes ``report.html`` and its JSON
twin ``report.json`` atomically.

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
values come from network traffic) and is escaped with :func:`html.escape`.
Missing optional sections render as a short "not evidenced" note; missing
required keys raise :class:`trustshield.errors.DataError` naming the key.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Callable

from trustshield.atomic_files import temp_beside
from trustshield.errors import DataError
from trustshield.report import svg
from trustshield.report.changes import compare
from trustshield.report.drift_section import drift_html
from trustshield.report.markup import (NOT_EVIDENCED, _e, _int, _is_num, _not_evidenced, _num,
                                       _pct, _section, _table)

REQUIRED_KEYS = ("model", "datasets", "protocol", "metrics")
"""Top-level keys without which a report is not a trust report."""


_METRICS = (  # key, label, kind, note
    ("accuracy", "Accuracy", "pct", "share of test records classified correctly"),
    ("macro_f1", "Macro F1", "num", "mean F1 of normal and attack classes"),
    ("fpr", "False-positive rate", "pct", "normal records alerted; lower is better"),
    ("detection_rate", "Detection rate", "pct", "attack records alerted (recall)"),
    ("precision", "Precision", "pct", "alerts that are real attacks"),
    ("roc_auc", "ROC AUC", "num", "ranking quality; 0.5 = chance, 1 = perfect"),
    ("review_share", "Review share", "pct", "records sent to human review"),
)

_STATUS = {"pass": ("\u2713", "pass"), "fail": ("\u2717", "fail"), "not_evidenced": ("?", "not evidenced")}

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


def _require(report: Any) -> None:
    """Raise DataError naming the first missing required key or malformed required value."""
    if not isinstance(report, dict):
        raise DataError(f"report must be a dict; got {type(report).__name__}")
    for key in REQUIRED_KEYS:
        if key not in report:
            raise DataError(f"report is missing required key {key!r}")
    for key, kind in (("model", dict), ("datasets", list), ("protocol", str), ("metrics", dict)):
        if not isinstance(report[key], kind):
            raise DataError(f"report key {key!r} must be a {kind.__name__}; got {type(report[key]).__name__}")
    if "model_id" not in report["model"]:
        raise DataError("report is missing required key 'model.model_id'")


def _header(r: dict) -> str:
    model = r["model"]
    return (
        f'<header class="page"><h1>{_e(r.get("title") or "TrustShield trust report")}</h1>'
        f'<p>Generated at <time>{_e(r.get("generated_at", "unknown time"))}</time></p>'
        f'<p>Model <code>{_e(model["model_id"])}</code> \u00b7 detector <strong>{_e(model.get("detector", "unknown"))}</strong></p>'
        "<p>Suspicion scores: <strong>higher = more suspicious</strong>.</p></header>"
    )


def _provenance(r: dict) -> str:
    rows = []
    for d in r["datasets"]:
        d = d if isinstance(d, dict) else {"name": d}
        rows.append([_e(d.get("role", "")), _e(d.get("name", "")), f'<span class="mono">{_e(d.get("path", ""))}</span>',
                     f'<span class="mono sha">{_e(d.get("sha256", ""))}</span>', _int(d.get("rows")), _int(d.get("rejected_rows"))])
    body = _table([("Role", ""), ("Name", ""), ("Path", ""), ("SHA-256", ""), ("Rows", "num"), ("Rejected rows", "num")],
                  rows, "Files read, with content hashes; rejected rows broke the dataset spec and were not used.")
    return _section("provenance", "Data provenance", body if rows else _not_evidenced("Datasets"))


def _protocol(r: dict) -> str:
    params = r["model"].get("params") or {}
    body = f"<p>{_e(r['protocol'])}</p>"
    t = r.get("threshold")
    if isinstance(t, dict):
        body += (f"<p>Alert when suspicion \u2265 <strong>{_num(t.get('alert'))}</strong>; "
                 f"human review when {_num(t.get('review'))} \u2264 suspicion &lt; {_num(t.get('alert'))}; "
                 f"alert threshold chosen for a target false-positive rate of {_pct(t.get('target_fpr'))}.</p>")
    else:
        body += _not_evidenced("Decision thresholds")
    if isinstance(params, dict) and params:
        rows = [[f"<code>{_e(k)}</code>", f"<code>{_e(json.dumps(v, default=str))}</code>"] for k, v in sorted(params.items(), key=lambda kv: str(kv[0]))]
        body += "<details><summary>Model parameters</summary>" + _table([("Parameter", ""), ("Value", "")], rows) + "</details>"
    return _section("protocol", "Validation protocol", body)


def _metrics(r: dict) -> str:
    m = r["metrics"]
    cards = []
    for key, label, kind, note in _METRICS:
        value = m.get(key)
        shown = NOT_EVIDENCED if key not in m else (_pct(value) if kind == "pct" else _num(value, ".3f"))
        cards.append(f'<div class="card" id="metric-{key}"><div class="label">{_e(label)}</div>'
                     f'<div class="value">{shown}</div><div class="note">{_e(note)}</div></div>')
    return _section("metrics", "Headline metrics (test data)", f'<div class="cards">{"".join(cards)}</div>')


def _confusion(r: dict) -> str:
    c = r.get("confusion")
    if not isinstance(c, dict) or not c.get("matrix"):
        return _section("confusion", "Confusion matrix", _not_evidenced("Confusion matrix"))
    chart = svg.confusion_heat(c.get("labels", ["normal", "attack"]), c["matrix"],
                               title="Confusion matrix on test data: rows are the true class, columns the predicted class")
    return _section("confusion", "Confusion matrix", chart + '<p class="legend">Rows: true class. Columns: predicted class. '
                    "Each cell gives the count and its share of the row.</p>")


def _per_category(r: dict) -> str:
    cats = [c for c in (r.get("per_category") or []) if isinstance(c, dict)]
    if not cats:
        return _section("per-category", "Per-category detection", _not_evidenced("Per-category detection"))
    chart = svg.bar_chart([c.get("category", "?") for c in cats], [c.get("detection_rate", 0) for c in cats],
                          title="Detection rate per attack category on test data", value_label="detection rate (share of records alerted)",
                          percent=True, max_value=1.0)
    rows = [[_e(c.get("category", "?")), _int(c.get("records")), _int(c.get("detected")), _pct(c.get("detection_rate"))] for c in cats]
    table = _table([("Category", ""), ("Records", "num"), ("Detected", "num"), ("Detection rate", "num")], rows)
    return _section("per-category", "Per-category detection", chart + table)


def _per_attack(r: dict) -> str:
    attacks = [a for a in (r.get("per_attack") or []) if isinstance(a, dict)]
    if not attacks:
        return _section("per-attack", "Per-attack detection", _not_evidenced("Per-attack detection"))
    attacks.sort(key=lambda a: (-(a.get("records") if _is_num(a.get("records")) else 0), str(a.get("attack", ""))))
    seen = {True: "yes", False: "<strong>no (unseen)</strong>"}
    rows = [[_e(a.get("attack", "?")), _e(a.get("category", "")), seen.get(a.get("seen_in_training"), "unknown"),
             _int(a.get("records")), _pct(a.get("detection_rate"))] for a in attacks]
    table = _table([("Attack", ""), ("Category", ""), ("Seen in training", ""), ("Records", "num"), ("Detection rate", "num")],
                   rows, "Sorted by number of test records. Unseen attacks measure generalisation to new techniques.")
    return _section("per-attack", "Per-attack detection", table)


def _roc(r: dict) -> str:
    roc = r.get("roc")
    if not isinstance(roc, dict) or not roc.get("fpr"):
        return _section("roc", "ROC curve", _not_evidenced("ROC curve"))
    op = roc.get("operating_point")
    marker = (op["fpr"], op["tpr"]) if isinstance(op, dict) and "fpr" in op and "tpr" in op else None
    label = f"operating point: FPR {_pct(marker[0])}, TPR {_pct(marker[1])}" if marker else ""
    chart = svg.line_chart(roc["fpr"], roc.get("tpr", []), title=f"ROC curve on test data, AUC {_num(roc.get('auc'), '.3f')}",
                           x_label="false-positive rate (normal records alerted)",
                           y_label="true-positive rate (attacks detected)", marker=marker, marker_label=label, diagonal=True)
    return _section("roc", "ROC curve", f"<p>AUC = <strong>{_num(roc.get('auc'), '.3f')}</strong>. "
                    "Dashed line: chance. Dot: the alert threshold in use.</p>" + chart)


def _unit(r: dict) -> str:
    return str(r.get("attribution_unit") or "log-odds")


def _importance(r: dict) -> str:
    fi = [f for f in (r.get("feature_importance") or []) if isinstance(f, dict)]
    if not fi:
        return _section("importance", "Global feature importance", _not_evidenced("Global feature importance"))
    chart = svg.bar_chart([f.get("feature", "?") for f in fi], [f.get("mean_abs_attribution", 0) for f in fi],
                          title="Global feature importance: mean absolute attribution per feature",
                          value_label=f"mean |attribution| ({_unit(r)})")
    return _section("importance", "Global feature importance",
                    "<p>Mean absolute contribution of each feature to the raw score over the test data "
                    f"({_e(_unit(r))}; size only, not direction).</p>" + chart)


def _alert(a: dict, threshold: Any, unit: str) -> str:
    alert_at = threshold.get("alert") if isinstance(threshold, dict) else None
    cmp = f" (alert threshold {_num(alert_at)})" if alert_at is not None else ""
    head = (f'<h3>Alert <code>{_e(a.get("alert_id", "?"))}</code></h3><p class="meta">row {_int(a.get("row"))} \u00b7 '
            f'suspicion <strong>{_num(a.get("suspicion"))}</strong>{cmp} \u00b7 category {_e(a.get("category", "?"))} '
            f'\u00b7 technique {_e(a.get("technique", "?"))}</p><p class="rationale">{_e(a.get("rationale", ""))}</p>')
    contribs = a.get("contributions")
    if not isinstance(contribs, list) or not contribs or "base" not in a:
        return f'<div class="alert">{head}{_not_evidenced("Attribution")}</div>'
    chart = svg.attribution_chart(a["base"], contribs, unit=unit,
                                  title=f"Why alert {a.get('alert_id', '?')} was raised: feature contributions")
    return f'<div class="alert">{head}{chart}</div>'


def _alerts(r: dict) -> str:
    alerts = [a for a in (r.get("example_alerts") or []) if isinstance(a, dict)]
    if not alerts:
        return _section("alerts", "Example alerts", _not_evidenced("Example alerts"))
    legend = (f'<p class="legend">Bars: contribution of each feature to the raw score ({_e(_unit(r))}). '
              f'<span class="swatch" style="background:{svg.POSITIVE}"></span>red, right = towards suspicious '
              f'<span class="swatch" style="background:{svg.NEGATIVE}"></span>blue, left = towards normal. '
              "Base value + all contributions = raw score.</p>")
    return _section("alerts", "Example alerts", legend + "".join(_alert(a, r.get("threshold"), _unit(r)) for a in alerts))


def _ceilings(r: dict) -> str:
    items = r.get("ceilings") or []
    if not items:
        return _section("ceilings", "Ceilings: limits of this evidence", _not_evidenced("Ceilings"))
    return _section("ceilings", "Ceilings: limits of this evidence", "<ul>" + "".join(f"<li>{_e(c)}</li>" for c in items) + "</ul>")


def _evidence(r: dict) -> str:
    ev = [e for e in (r.get("evidence") or []) if isinstance(e, dict)]
    if not ev:
        return _section("evidence", "Evidence", _not_evidenced("Evidence checks"))
    rows = []
    for e in ev:
        status = str(e.get("status", ""))
        symbol, text = _STATUS.get(status, ("\u2022", status or "unknown"))
        cls = status if status in _STATUS else "other"
        badge = f'<span class="status status-{cls}">{symbol} {_e(text)}</span>'
        rows.append([_e(e.get("check", "")), f"<code>{_e(e.get('metric', ''))}</code>", _num(e.get("value")),
                     _num(e.get("threshold")), badge, _e(", ".join(str(p) for p in (e.get("principles") or [])))])
    table = _table([("Check", ""), ("Metric", ""), ("Value", "num"), ("Threshold", "num"), ("Status", ""), ("Principles", "")], rows)
    return _section("evidence", "Evidence", table)


def _bullets(items: Any) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items or []) + "</ul>"


def _model_card(r: dict) -> str:
    """Intended and out-of-scope uses, headline metrics, limitations, ethics."""
    c = r["model_card"]
    metrics = _table([("Metric", ""), ("Value", "num")],
                     [[_e(k), _num(v, ".4f")] for k, v in (c.get("metrics") or {}).items()])
    body = (f"<h3>Intended use</h3><p>{_e(c.get('intended_use', ''))}</p>"
            "<h3>Out of scope</h3>" + _bullets(c.get("out_of_scope")) + "<h3>Headline metrics</h3>" + metrics
            + "<h3>Limitations (measured)</h3>"
            + (_bullets(c["limitations"]) if c.get("limitations") else _not_evidenced("Limitations"))
            + "<h3>Ethical considerations</h3>" + _bullets(c.get("ethical_considerations")))
    return _section("model-card", "Model card", body)


def _data_sheet(r: dict) -> str:
    rows = [[_e(d.get("name", "")), _e(d.get("role", "")), _int(d.get("rows")), _int(d.get("rejected_rows")),
             f'<span class="mono sha">{_e(d.get("sha256") or "")}</span>', _e(d.get("licence", "")),
             f'<span class="mono">{_e(_no_scheme(d.get("source_url", "")))}</span>'] for d in r["data_sheet"] if isinstance(d, dict)]
    table = _table([("Name", ""), ("Role", ""), ("Rows", "num"), ("Rejected", "num"), ("SHA-256", ""),
                    ("Licence / terms", ""), ("Source", "")], rows,
                   "Licence and source as recorded in each data set's SOURCE.md; the page holds no "
                   "addresses to follow, so sources are shown without their scheme (full URL in report.json).")
    return _section("data-sheet", "Data sheet", table if rows else _not_evidenced("Data sheet"))


def _no_scheme(url: Any) -> str:
    """``https://host/path`` as ``host/path``: text to read, never a link to follow."""
    return re.sub(r"^[a-z][a-z0-9+.-]*://", "", str(url), flags=re.IGNORECASE)


def _changes(r: dict) -> str:
    c = r["changes"]
    status = c.get("status")
    if status != "compared":
        note = {"first report": "First report of this model in this folder: nothing to compare.",
                "different model": f"The previous report in this folder was of a different model "
                                   f"({c.get('previous_model_id')}); no comparison."}
        return _section("changes", "Changes since the previous report", f"<p>{_e(note.get(status, status))}</p>")
    metrics = _table([("Metric", ""), ("Previous", "num"), ("Now", "num"), ("Change", "num")],
                     [[_e(m["metric"]), _num(m["old"], ".4f"), _num(m["new"], ".4f"), _num(m["delta"], "+.4f")]
                      for m in c.get("metrics") or []],
                     f"Previous report generated at {c.get('previous_generated_at')}.")
    verdicts = [[_e(e["check"]), _e(e.get("metric") or ""), _e(e["old"] or "absent"), _e(e["new"] or "absent")]
                for e in c.get("evidence") or []]
    evidence = (_table([("Check", ""), ("Metric", ""), ("Previous", ""), ("Now", "")], verdicts)
                if verdicts else "<p>No evidence verdict changed.</p>")
    return _section("changes", "Changes since the previous report", metrics + "<h3>Evidence verdicts</h3>" + evidence)


SHOWN_SUBJECTS = 15


def _key(key: dict | None) -> str:
    if not key:
        return _not_evidenced("a key measurement")
    return (f"{_e(key['check'])}: <strong>{_num(key['value'])}</strong> (bar {_num(key['threshold'])}, "
            f"{_e(key['status'])})")


def _governance(r: dict) -> str:
    """Principles at a glance, the practices behind them, and the risk register."""
    g = r["governance"]
    glance = _table([("Principle", ""), ("Status", ""), ("Key measurement", ""),
                     ("Practices met / partly / not met / not evidenced", "num")],
                    [[_e(p.get("title") or p["item"]), f"<strong>{_e(p['status'])}</strong>", _key(p.get("key")),
                      " / ".join(_int(p["practices"].get(k, 0)) for k in ("met", "partly met", "not met", "not evidenced"))]
                     for p in g["principles"]],
                    f"Use case: {g['use_case']}. A practice is met only when every check behind it was measured "
                    "and passed; a principle only when all its applicable practices are met.")
    practices = _table([("Practice", ""), ("Status", ""), ("Checks", "")],
                       [[_e(f"{p['practice']} {p.get('title', '')}"), _e(p["status"]),
                         _e("; ".join(f"{c}: {v}" for c, v in p["checks"].items()) or p.get("reason", ""))]
                        for p in g["crosswalk"]["practices"]])
    risks = _table([("Risk", ""), ("Inherent", "num"), ("Residual", "num"), ("Mitigations (check: verdict)", "")],
                   [[_e(f"{k['id']} {k['title']}"), f"{_int(k['inherent'])} {_e(k['inherent_level'])}",
                     f"{_int(k['residual'])} {_e(k['residual_level'])}",
                     _e("; ".join(f"{m['check']}: {m['verdict']}" for m in k["mitigations"]))] for k in g["risks"]],
                   "Residual risk falls only with passing evidence: each passing mitigation check removes its "
                   "likelihood steps; an unmeasured one removes nothing.")
    return _section("governance", "Principles, practices and risks",
                    glance + "<h3>Practices</h3>" + practices + "<h3>Risk register</h3>" + risks)


def _authentication(r: dict) -> str:
    """Keystroke and mouse verification and the fairness of their decisions (present only
    when the report was given authentication benchmark figures)."""
    a = r["authentication"]
    k, m, f = a["keystroke"], a["mouse"], a["fairness"]
    rows = [[_e(name), _num(v["mean"], ".4f"), _num(v["sd"], ".4f")]
            for name, v in sorted(k["baselines"].items(), key=lambda kv: kv[1]["mean"])]
    rows.append(["<strong>TrustShield</strong>", f"<strong>{_num(k['ours']['mean'], '.4f')}</strong>",
                 _num(k["ours"]["sd"], ".4f")])
    parts = [f"<p>{_e(k['protocol'])}</p>",
             _table([("Keystroke verifier", ""), ("Mean EER", "num"), ("SD", "num")], rows,
                    f"Ratio to the best classic detector ({k['best_baseline']}): {_num(k['ratio'], '.3f')}")]
    for name, curve in k.get("error_curves", {}).items():
        parts.append(f"<h3>{_e(name)}: false rejections against false acceptances</h3>")
        parts.append(svg.line_chart(curve["far"], curve["frr"], title=f"{name}: FRR against FAR, mean over subjects",
                                    x_label="false-acceptance rate (impostor typings accepted)",
                                    y_label="false-rejection rate (genuine typings rejected)", diagonal=False))
    users = sorted(m["auc_per_user"])
    parts.append(_table([("Mouse dynamics", ""), ("Session ROC AUC", "num")],
                        [[_e(u), _num(m["auc_per_user"][u], ".3f")] for u in users]
                        + [["<strong>pooled</strong>", f"<strong>{_num(m['auc_pooled'], '.3f')}</strong>"]],
                        m["protocol"]))
    by = m.get("auc_by_actions") or {}
    if by:
        parts.append(_table([("Actions used", "num"), ("Pooled AUC", "num")],
                            [[_e(n), _num(v, ".3f")] for n, v in by.items()]))
    parts.append(_table([("Thresholds", ""), ("Mean FRR", "num"), ("Worst-decile FRR", "num"), ("Mean FAR", "num")],
                        [[_e(name), _num(v["mean_frr"], ".3f"), _num(v["worst_decile_frr"], ".3f"),
                          _num(v["mean_far"], ".3f")] for name, v in f["variants"].items()],
                        f"Mitigation: {f['mitigation']}; worst-decile FRR ratio "
                        f"{_num(f['worst_decile_frr_ratio'], '.3f')}, mean FAR change {_num(f['mean_far_increase'], '+.4f')}. "
                        + f["protocol"]))
    worst = sorted(f["per_subject"], key=lambda row: -(row.get("frr_before") or 0))[:SHOWN_SUBJECTS]
    parts.append(f"<p>The {len(worst)} subjects most often turned away before the mitigation, "
                 "before and after it (same order).</p>")
    for when in ("before", "after"):
        subjects = worst
        parts.append(svg.bar_chart([row["subject"] for row in subjects],
                                   [row.get(f"frr_{when}") or 0.0 for row in subjects],
                                   title=f"False-rejection rate per subject, {when} the mitigation",
                                   value_label="share of genuine attempts not accepted", percent=True, max_value=1))
    return _section("authentication", "Authentication", "".join(parts))


_SECTIONS: tuple[Callable[[dict], str], ...] = (
    _header, _model_card, _data_sheet, _changes, _governance, _provenance, _protocol, _metrics, _confusion, _per_category, _per_attack, _roc,
    _importance, _alerts, _ceilings, drift_html, _authentication, _evidence,
)


def render_html(report: dict) -> str:
    """Return the trust report as one self-contained HTML page (str).

    ``report`` is the plain-JSON report dict (see module docstring and
    ``report.json``). Required keys: ``model`` (with ``model_id``),
    ``datasets``, ``protocol``, ``metrics``; a missing one raises
    :class:`DataError` naming it. Optional sections that are absent or empty
    render as a "not evidenced" note, except ``per_attack``, whose section is
    left out when the key is absent. The page has no scripts and no external
    references; every data string is HTML-escaped.
    """
    _require(report)
    optional = {_per_attack: "per_attack", _authentication: "authentication", _governance: "governance",
                _model_card: "model_card", _data_sheet: "data_sheet", _changes: "changes",
                drift_html: "drift"}
    body = "\n".join(part(report) for part in _SECTIONS if optional.get(part, "metrics") in report)
    title = _e(report.get("title") or "TrustShield trust report")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{_CSS}</style></head>\n<body><main>\n{body}\n</main></body></html>\n"
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


def write_report(report: dict, out_dir: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``out_dir/report.html`` and its JSON twin ``out_dir/report.json``.

    Both texts are built in memory first (the JSON with ``indent=2,
    sort_keys=True`` and strict JSON: NaN/infinity are refused), so a report
    that cannot be rendered or serialised raises :class:`DataError` and
    leaves existing files untouched. Each file is written to a temp file in
    ``out_dir`` and moved into place with ``os.replace``. Creates ``out_dir``
    if needed. Returns ``(html_path, json_path)``.

    The ``report.json`` already in ``out_dir`` (if any) is read first and compared with
    this one (:func:`trustshield.report.changes.compare`); the result is set as
    ``report["changes"]`` (replacing any earlier value) before anything is rendered.
    """
    _require(report)
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
