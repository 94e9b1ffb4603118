"""Trust report rendering: self-contained, escaped, atomic, and faithful to its data."""

from __future__ import annotations

import copy
import json
import math
import os
import re

import pytest

from trustshield.errors import DataError
from trustshield.report import render_html, write_report
from trustshield.report import html as report_html
from trustshield.report import svg

EVIL = "<script>alert(1)</script>"


def make_report() -> dict:
    """A small but complete synthetic report with attacker-controlled strings in it."""
    n = 37
    fpr = [i / (n - 1) for i in range(n)]
    tpr = [min(1.0, math.sqrt(x) * 1.05) for x in fpr]
    return {
        "title": "TrustShield trust report \u2014 synthetic",
        "generated_at": "2024-05-01T12:00:00Z",
        "model": {
            "model_id": "gbm-<b>bold</b>-01",
            "detector": "lightgbm",
            "params": {"num_leaves": 31, "lr": 0.05},
        },
        "datasets": [
            {
                "role": "train",
                "name": "KDDTrain+",
                "path": "/data/KDDTrain+.txt",
                "sha256": "a" * 64,
                "rows": 125973,
                "rejected_rows": 0,
            },
            {
                "role": "test",
                "name": "KDDTest+",
                "path": '/data/"><img src=x onerror=alert(1)>.txt',
                "sha256": "b" * 64,
                "rows": 22544,
                "rejected_rows": 3,
            },
        ],
        "protocol": "Models and thresholds were chosen by 5-fold cross-validation on training data only.",
        "threshold": {"alert": 0.82, "review": 0.55, "target_fpr": 0.02},
        "metrics": {
            "accuracy": 0.8123,
            "macro_f1": 0.8011,
            "fpr": 0.0213,
            "detection_rate": 0.6934,
            "precision": 0.9772,
            "roc_auc": 0.9312,
            "review_share": 0.041,
        },
        "confusion": {"labels": ["normal", "attack"], "matrix": [[9500, 211], [3935, 8898]]},
        "per_category": [
            {"category": "DoS", "records": 7458, "detected": 6100, "detection_rate": 0.8179},
            {"category": "Probe", "records": 2421, "detected": 1900, "detection_rate": 0.7848},
            {"category": EVIL, "records": 2754, "detected": 600, "detection_rate": 0.2179},
        ],
        "per_attack": [
            {
                "attack": "smurf",
                "category": "DoS",
                "seen_in_training": True,
                "records": 665,
                "detection_rate": 0.99,
            },
            {
                "attack": "mscan",
                "category": "Probe",
                "seen_in_training": False,
                "records": 996,
                "detection_rate": 0.41,
            },
            {
                "attack": "neptune",
                "category": "DoS",
                "seen_in_training": True,
                "records": 4657,
                "detection_rate": 0.97,
            },
        ],
        "roc": {
            "fpr": fpr,
            "tpr": tpr,
            "auc": 0.9312,
            "operating_point": {"fpr": fpr[2], "tpr": tpr[2]},
        },
        "feature_importance": [
            {"feature": "src_bytes", "mean_abs_attribution": 1.42},
            {"feature": EVIL, "mean_abs_attribution": 0.61},
            {"feature": "dst_host_srv_count", "mean_abs_attribution": 0.33},
        ],
        "example_alerts": [
            {
                "alert_id": "A-0001",
                "row": 17,
                "suspicion": 0.97,
                "category": "DoS",
                "technique": "T1498",
                "rationale": "Very many SYN errors to one service <b>x</b>",
                "base": -1.2,
                "contributions": [
                    {"feature": "serror_rate", "value": 1.0, "contribution": 2.1},
                    {"feature": "logged_in", "value": 0, "contribution": -0.4},
                    {"feature": EVIL, "value": EVIL, "contribution": 0.9},
                    {"feature": "service", "value": "private", "contribution": 0.25},
                ],
            },
            {
                "alert_id": "A-0002",
                "row": 99,
                "suspicion": 0.88,
                "category": "Probe",
                "technique": "T1046",
                "rationale": "Scans many hosts",
                "base": -1.2,
                "contributions": [
                    {"feature": "dst_host_diff_srv_rate", "value": 0.9, "contribution": 1.7},
                    {"feature": "same_srv_rate", "value": 0.02, "contribution": -0.3},
                ],
            },
        ],
        "ceilings": [
            "NSL-KDD is synthetic 1998 traffic; rates do not transfer to modern networks.",
            EVIL,
        ],
        "evidence": [
            {
                "check": "false-positive rate at most target",
                "metric": "fpr",
                "value": 0.0213,
                "threshold": 0.03,
                "status": "pass",
                "principles": ["robustness"],
            },
            {
                "check": "unseen attacks detected",
                "metric": "detection_rate_unseen",
                "value": 0.41,
                "threshold": 0.5,
                "status": "fail",
                "principles": ["generalisation"],
            },
            {
                "check": "calibration",
                "metric": "ece",
                "value": None,
                "threshold": None,
                "status": "not_evidenced",
                "principles": ["transparency"],
            },
        ],
    }


def section(page: str, sid: str) -> str:
    """Inner HTML of ``<section id="sid">``."""
    m = re.search(rf'<section id="{sid}">(.*?)</section>', page, re.S)
    assert m, f"section {sid!r} not found"
    return m.group(1)


def test_page_is_self_contained():
    page = render_html(make_report())
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script", page, re.I)
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:|//|file:|data:)""", page, re.I)
    assert not re.search(r"https?://", page)  # not even an xmlns
    assert "@import" not in page and "url(" not in page
    assert "<link" not in page.lower()


def test_attacker_strings_are_escaped_never_raw():
    page = render_html(make_report())
    assert EVIL not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<b>" not in page  # model id and rationale carry <b>
    assert "gbm-&lt;b&gt;bold&lt;/b&gt;-01" in page


def test_sections_in_required_order():
    page = render_html(make_report())
    order = [
        "provenance",
        "protocol",
        "metrics",
        "confusion",
        "per-category",
        "per-attack",
        "roc",
        "importance",
        "alerts",
        "ceilings",
        "evidence",
    ]
    positions = [page.index(f'<section id="{sid}">') for sid in order]
    assert page.index('<header class="page">') < positions[0]
    assert positions == sorted(positions)


def test_roc_polyline_has_one_point_per_input_point():
    report = make_report()
    roc = section(render_html(report), "roc")
    m = re.search(r'<polyline class="curve" points="([^"]+)"', roc)
    assert m
    assert len(m.group(1).split()) == len(report["roc"]["fpr"])
    assert roc.count("<circle") == 1  # operating point marked
    assert "stroke-dasharray" in roc  # chance diagonal


def test_roc_with_non_finite_value_raises_data_error():
    report = make_report()
    report["roc"]["tpr"][3] = float("nan")
    with pytest.raises(DataError, match="finite"):
        render_html(report)


@pytest.mark.parametrize("key", ["model", "datasets", "protocol", "metrics"])
def test_missing_required_key_raises_data_error_naming_it(key):
    report = make_report()
    del report[key]
    with pytest.raises(DataError, match=f"missing required key '{key}'"):
        render_html(report)


def test_missing_model_id_is_named():
    report = make_report()
    del report["model"]["model_id"]
    with pytest.raises(DataError, match="model.model_id"):
        render_html(report)


def test_empty_per_category_renders_not_evidenced():
    report = make_report()
    report["per_category"] = []
    body = section(render_html(report), "per-category")
    assert "not evidenced" in body
    assert "<svg" not in body


def test_missing_optional_sections_render_notes_not_crashes():
    report = make_report()
    for key in (
        "confusion",
        "roc",
        "feature_importance",
        "example_alerts",
        "ceilings",
        "evidence",
        "threshold",
        "per_attack",
        "title",
        "generated_at",
    ):
        del report[key]
    page = render_html(report)
    for sid in ("confusion", "roc", "importance", "alerts", "ceilings", "evidence"):
        assert "not evidenced" in section(page, sid), sid
    assert '<section id="per-attack">' not in page  # optional table left out when absent
    assert "not evidenced" in section(page, "protocol")  # thresholds


def test_attribution_chart_colours_sign_and_sorts_by_magnitude():
    chart = svg.attribution_chart(
        0.5,
        [
            {"feature": "small_neg", "value": 1, "contribution": -0.1},
            {"feature": "big_pos", "value": 2, "contribution": 1.5},
            {"feature": "mid_neg", "value": "tcp", "contribution": -0.8},
        ],
        title="t",
    )
    fills = dict(re.findall(r'<rect class="(positive|negative)"[^>]*fill="(#[0-9a-f]{6})"', chart))
    assert fills == {"positive": svg.POSITIVE, "negative": svg.NEGATIVE}
    assert svg.POSITIVE != svg.NEGATIVE
    assert chart.index("big_pos = 2") < chart.index("mid_neg = tcp") < chart.index("small_neg = 1")
    # base + sum(contributions) = raw score, and both are printed
    assert "base value 0.5" in chart and "raw score 1.1 " in chart
    assert "\u22120.8" in chart and "+1.5" in chart  # sign in text, not colour alone


def test_attribution_chart_folds_tail_so_bars_still_add_up():
    contribs = [{"feature": f"f{i}", "value": i, "contribution": 0.1 * (i + 1)} for i in range(14)]
    chart = svg.attribution_chart(0.0, contribs, title="t", top_k=10)
    assert chart.count("<rect") == 11
    assert "other 4 features (combined)" in chart
    assert f"raw score {sum(c['contribution'] for c in contribs):.4g}" in chart


def test_per_attack_table_sorted_by_records_desc():
    body = section(render_html(make_report()), "per-attack")
    assert body.index("neptune") < body.index("mscan") < body.index("smurf")
    assert "unseen" in body


def test_evidence_status_is_text_as_well_as_colour():
    body = section(render_html(make_report()), "evidence")
    assert re.search(r'class="status status-pass">[^<]*pass<', body)
    assert re.search(r'class="status status-fail">[^<]*fail<', body)
    assert re.search(r'class="status status-not_evidenced">[^<]*not evidenced<', body)
    assert "n/a" in body  # null value and threshold


def test_charts_are_accessible():
    page = render_html(make_report())
    n_svg = page.count("<svg")
    assert n_svg == 6  # confusion, per-category, ROC, importance, 2 alerts
    assert len(re.findall(r"<svg[^>]*role=\"img\"[^>]*><title>", page)) == n_svg
    assert page.count('<th scope="col"') >= 20


def test_bar_chart_rejects_negative_and_draws_one_bar_per_label():
    chart = svg.bar_chart(
        ["a", "b"], [0.5, 0.25], title="t", value_label="rate", percent=True, max_value=1
    )
    assert chart.count("<rect") == 2 and "50.0%" in chart and "100.0%" in chart
    with pytest.raises(DataError):
        svg.bar_chart(["a"], [-0.1], title="t", value_label="v")


def test_column_chart_draws_one_linked_column_per_label_heights_in_proportion():
    chart = svg.column_chart(
        ["h0", "h1", "<h2>"], [4, 2, 0], title="per hour", links=["/a?x=1&y=2", "/b", "/c"]
    )
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([0-9.]+)"', chart)]
    assert len(heights) == 3 and heights[0] == pytest.approx(2 * heights[1]) and heights[2] == 0
    assert chart.count('<a class="bucket"') == 3 and 'href="/a?x=1&amp;y=2"' in chart
    assert "&lt;h2&gt;" in chart and "<h2>" not in chart  # labels are escaped
    with pytest.raises(DataError):
        svg.column_chart(["a"], [-1], title="t")
    with pytest.raises(DataError):
        svg.column_chart(["a", "b"], [1, 2], title="t", links=["/a"])


def test_confusion_heat_shows_counts_and_row_shares():
    chart = svg.confusion_heat(["normal", "attack"], [[90, 10], [25, 75]], title="cm")
    for text in (">90<", ">10<", ">25<", ">75<", "90.0% of row", "25.0% of row"):
        assert text in chart
    with pytest.raises(DataError):
        svg.confusion_heat(["normal", "attack"], [[1, 2, 3]], title="cm")


def test_write_report_writes_twin_and_leaves_no_temp_files(tmp_path):
    report = make_report()
    out = tmp_path / "nested" / "run1"
    html_path, json_path = write_report(report, out)
    assert (html_path, json_path) == (out / "report.html", out / "report.json")
    assert sorted(os.listdir(out)) == ["report.html", "report.json"]
    assert json.loads(json_path.read_text(encoding="utf-8")) == report
    assert html_path.read_text(encoding="utf-8") == render_html(report)


def test_unserialisable_report_leaves_previous_files_untouched(tmp_path):
    write_report(make_report(), tmp_path)
    before = {p: (tmp_path / p).read_bytes() for p in ("report.html", "report.json")}
    bad = make_report()
    bad["title"] = "second run"
    bad["model"]["params"]["callback"] = object()
    with pytest.raises(DataError, match="JSON"):
        write_report(bad, tmp_path)
    nan = make_report()
    nan["metrics"]["roc_auc"] = float("nan")  # renders as n/a but is not valid JSON
    with pytest.raises(DataError):
        write_report(nan, tmp_path)
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json"]


def test_crash_during_replace_leaves_previous_files_and_no_temp(tmp_path, monkeypatch):
    write_report(make_report(), tmp_path)
    before = {p: (tmp_path / p).read_bytes() for p in ("report.html", "report.json")}
    calls = []

    def failing_replace(src, dst):
        calls.append(dst)
        raise OSError("disk full")

    monkeypatch.setattr(report_html.os, "replace", failing_replace)
    changed = copy.deepcopy(make_report())
    changed["title"] = "second run"
    with pytest.raises(OSError):
        write_report(changed, tmp_path)
    assert calls
    assert {p: (tmp_path / p).read_bytes() for p in before} == before
    assert sorted(os.listdir(tmp_path)) == ["report.html", "report.json"]


def authentication() -> dict:
    variants = {
        name: {"mean_frr": frr, "worst_decile_frr": worst, "mean_far": far}
        for name, frr, worst, far in (("global", 0.03, 0.21, 0.06), ("adaptive", 0.01, 0.06, 0.05))
    }
    return {
        "keystroke": {
            "protocol": "first 25 typings enrol",
            "ours": {"mean": 0.05, "sd": 0.03},
            "baselines": {EVIL: {"mean": 0.09, "sd": 0.06}, "Euclidean": {"mean": 0.24, "sd": 0.1}},
            "best_baseline": EVIL,
            "ratio": 0.55,
            "error_curves": {"TrustShield": {"far": [0.0, 0.5, 1.0], "frr": [0.4, 0.05, 0.0]}},
        },
        "mouse": {
            "protocol": "train sessions only",
            "auc_pooled": 0.93,
            "auc_per_user": {"user21": 0.85, "user23": 0.99},
            "auc_by_actions": {"1": 0.71, "all": 0.93},
            "actions_to_decision": {"median_actions": 25},
        },
        "fairness": {
            "protocol": "enrolment only",
            "before": variants["global"],
            "after": variants["adaptive"],
            "variants": variants,
            "worst_decile_frr_ratio": 0.3,
            "mean_far_increase": -0.01,
            "mitigation": "adaptive",
            "per_subject": [
                {"subject": "s1", "frr_before": 0.4, "frr_after": 0.1},
                {"subject": "s2", "frr_before": 0.0, "frr_after": 0.0},
            ],
        },
    }


def test_authentication_section_only_when_given_and_escaped():
    assert '<section id="authentication">' not in render_html(make_report())
    report = make_report() | {"authentication": authentication()}
    page = render_html(report)
    body = section(page, "authentication")
    assert EVIL not in page and "&lt;script&gt;" in body
    assert body.count('class="curve"') == 1 and "0.930" in body and "0.300" in body
    assert (
        "per subject, before the mitigation" in body and "per subject, after the mitigation" in body
    )
    assert page.index('<section id="authentication">') < page.index('<section id="evidence">')
