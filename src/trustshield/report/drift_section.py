"""The trust report's drift section (``report["drift"]``, see
:func:`trustshield.pipeline.report_content.drift_content`): the features that moved most
between training and the report's data set, the drift of the suspicion, per-window figures
and the store's drift events."""

from __future__ import annotations

from trustshield.report import svg
from trustshield.report.markup import _e, _int, _not_evidenced, _num, _pct, _section, _table

HEADING = "Drift: this data set vs training"
LEVEL_TEXT = {"none": "none", "moderate": "moderate (PSI ≥ 0.1)", "major": "major (PSI ≥ 0.25)"}


def drift_html(r: dict) -> str:
    d = r.get("drift")
    if not isinstance(d, dict):
        return _section("drift", HEADING, _not_evidenced("Drift"))
    if not d.get("available"):
        body = f'<p class="note-ne">{_e(d.get("reason") or "no drift reference")}</p>'
        return _section("drift", HEADING, body + _events(d))
    whole = d.get("whole") or {}
    top = [f for f in whole.get("top_features") or [] if isinstance(f, dict)]
    intro = (f"<p>{_int(d.get('records'))} records of {_e(d.get('dataset', '?'))} compared with "
             f"{_int(whole.get('n_reference'))} training records. Population stability index "
             "(PSI, ≥ 0, higher = more drift; 0.1 moderate, 0.25 major) and Kolmogorov–Smirnov "
             "statistic (KS, 0–1; numeric features only). Worst level: "
             f"<strong>{_e(LEVEL_TEXT.get(whole.get('level'), whole.get('level')))}</strong>.</p>")
    chart = svg.bar_chart([f.get("name", "?") for f in top], [f.get("psi") or 0.0 for f in top],
                          title="Features that moved most: population stability index",
                          value_label="PSI, training vs this data set") if top else ""
    rows = [[_e(f.get("name")), _e(f.get("kind")), _num(f.get("psi"), ".3f"),
             _num(f.get("ks"), ".3f"), _e(f.get("level"))] for f in top]
    table = _table([("Feature", ""), ("Kind", ""), ("PSI", "num"), ("KS", "num"), ("Level", "")],
                   rows, caption="The features that moved most")
    output = (f"<p>Suspicion: PSI {_num(whole.get('output_psi'), '.3f')}, KS "
              f"{_num(whole.get('output_ks'), '.3f')}; alert rate {_pct(whole.get('reference_alert_rate'))} "
              f"in training (out-of-fold), {_pct(whole.get('window_alert_rate'))} here.</p>")
    return _section("drift", HEADING, intro + chart + table + output + _windows(d) + _events(d))


def _windows(d: dict) -> str:
    windows = [w for w in d.get("windows") or [] if isinstance(w, dict)]
    if len(windows) < 2:
        return ""
    rows = [[_int(w.get("index")), f"{_int(w.get('first_line'))}–{_int(w.get('last_line'))}",
             _int(w.get("n_window")), _e(w.get("level")), _num(w.get("max_feature_psi"), ".3f"),
             _num(w.get("output_psi"), ".3f"), _pct(w.get("alert_rate_change"))] for w in windows]
    return _table([("Window", "num"), ("Lines", ""), ("Records", "num"), ("Level", ""),
                   ("Largest feature PSI", "num"), ("Suspicion PSI", "num"),
                   ("Alert-rate change", "num")], rows,
                  caption=f"Per window of {d.get('window')} records")


def _events(d: dict) -> str:
    events = [e for e in d.get("events") or [] if isinstance(e, dict)]
    if not events:
        return ""
    rows = [[_e(e.get("created_at")), f"<code>{_e(e.get('run_id'))}</code>", _int(e.get("window_index")),
             f"{_int(e.get('first_line'))}–{_int(e.get('last_line'))}", _e(e.get("level")),
             _num(e.get("max_feature_psi"), ".3f"), _num(e.get("output_psi"), ".3f"),
             _pct(e.get("alert_rate_change"))] for e in events]
    shown = f"last {len(events)} of {d.get('events_total', len(events))}"
    return _table([("When", ""), ("Run", ""), ("Window", "num"), ("Lines", ""), ("Level", ""),
                   ("Largest feature PSI", "num"), ("Suspicion PSI", "num"),
                   ("Alert-rate change", "num")], rows,
                  caption=f"Drift events stored by detection runs of this model ({shown})")
