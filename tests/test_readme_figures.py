"""Figures the README states are the figures of the committed benchmark results.

``make bench`` writes each benchmark's JSON into ``benchmarks/results/``; every sentence
listed here must read, in the README, exactly as it reads with that JSON's values filled
in. A benchmark re-run that changes a figure therefore fails this test until the README
says the new figure.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
FIELD = re.compile(r"\{(?P<path>[^{}:]+)(?::(?P<spec>[^{}]+))?\}")

#: short names for long JSON paths
ALIASES = {
    "lgbm": "baselines/LightGBM (defaults, p ≥ 0.5)",
    "rf": "baselines/RandomForest (scikit-learn defaults)",
    "defences": "hardening/defences",
    "s": "scenarios",
    "lofo": "leave_one_family_out",
    "t": "tables",
    "by_features": "budget_curve/success_by_features_at_factor_2",
}
#: (results file, README sentence with ``{path/in/json:format}`` fields; ``format`` is a
#: Python format spec, or ``hundreds`` for a count rounded to hundreds; negative numbers
#: are written with the minus sign U+2212 and percentages with a space before "%", as the
#: README writes them)
CLAIMS = [
    (
        "nsl_kdd.json",
        "| TrustShield hybrid | {kddtest_plus/accuracy:.3f} | {kddtest_plus/fpr:.3f} | "
        "{kddtest_plus/detection_rate:.3f} | {kddtest_plus/macro_f1:.3f} | "
        "{kddtest_21/macro_f1:.3f} |",
    ),
    (
        "nsl_kdd.json",
        "| LightGBM, defaults, p ≥ 0.5 | {lgbm/KDDTest+.txt/accuracy:.3f} | "
        "{lgbm/KDDTest+.txt/fpr:.3f} | {lgbm/KDDTest+.txt/detection_rate:.3f} | "
        "{lgbm/KDDTest+.txt/macro_f1:.3f} | {lgbm/KDDTest-21.txt/macro_f1:.3f} |",
    ),
    (
        "nsl_kdd.json",
        "| RandomForest, defaults | {rf/KDDTest+.txt/accuracy:.3f} | {rf/KDDTest+.txt/fpr:.3f} | "
        "{rf/KDDTest+.txt/detection_rate:.3f} | {rf/KDDTest+.txt/macro_f1:.3f} | "
        "{rf/KDDTest-21.txt/macro_f1:.3f} |",
    ),
    (
        "throughput.json",
        "about {rows_per_s:hundreds} rows/s end to end",
    ),
    (
        "throughput.json",
        "{ratio:.1f} × the reference pipeline, peak RSS {peak_rss_mb:.0f} MB (the reference: "
        "{reference_rows_per_s:,.0f} rows/s, {reference_peak_rss_mb:,.0f} MB)",
    ),
    (
        "startup.json",
        "measured {median_s/import:.3f} s and {median_s/help:.3f} s (medians of 5 child "
        "processes; {ratio_to_baseline/import:.1f}× and {ratio_to_baseline/help:.1f}× "
        "`python -c pass`)",
    ),
    (
        "exports.json",
        "met ({formats/ecs/median_s:.2f} s, {formats/ecs/alerts_per_s:,.0f} alerts/s)",
    ),
    (
        "robustness.json",
        "| TrustShield attacks (score + decision + tree) | {ours/success_rate:.3f} | "
        "0 of every example | {ours/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "| after monotone constraints | {defences/monotone/success_rate:.3f} | 0 | "
        "{defences/monotone/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "| after adversarial training (kept) | {defences/adversarial/success_rate:.3f} | 0 | "
        "{defences/adversarial/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "Success grows with the budget: {by_features/1:.3f} / {by_features/2:.3f} / "
        "{by_features/3:.3f} / {by_features/4:.3f} / {by_features/5:.3f} for 1–5 features",
    ),
    (
        "robustness.json",
        "detection by {poisoning/drop_without_sanitiser:.3f}; training on sanitised labels "
        "leaves no drop ({poisoning/drop_with_sanitiser:.3f})",
    ),
    (
        "auth.json",
        "outlier count, 0.089 ± 0.064 (ratio **{keystroke/ratio:.3f}**)",
    ),
    (
        "auth.json",
        "against outlier count 0.085 (ratio **{keystroke_short/ratio:.3f}**)",
    ),
    (
        "auth.json",
        "Session ROC AUC pooled **{mouse/auc_pooled:.3f}**",
    ),
    (
        "auth.json",
        "{mouse/auc_by_actions/1:.3f} after 1 action, {mouse/auc_by_actions/5:.3f} after 5, "
        "{mouse/auc_by_actions/10:.3f} after 10",
    ),
    (
        "auth.json",
        "the worst-decile FRR is {fairness/before/worst_decile_frr:.3f} (mean FRR "
        "{fairness/before/mean_frr:.3f}, mean FAR {fairness/before/mean_far:.3f})",
    ),
    (
        "auth.json",
        "**{fairness/after/worst_decile_frr:.3f}** (ratio 0.33), the adaptive template with "
        "mean FAR {fairness/variants/adaptive/mean_far:.3f}",
    ),
    (
        "attack_suite.json",
        "while 4 clients send wrong secrets {auth_p90_ms_under_wrong_secret_flood:.1f} ms",
    ),
    (
        "attack_suite.json",
        "a 94 MB body without a token refused in {unauth_94mb_reject_ms:.1f} ms",
    ),
    (
        "fuzz_readers.json",
        "Measured here: {cases:,} cases over {readers} readers (800 each), {results:,} results "
        "and {refusals:,} refusals, **{unexpected} unexpected exceptions, {hangs} hangs, "
        "{crashes} crashes** ({seconds:.0f} s;",
    ),
    (
        "nsl_kdd.json",
        "KDDTrain+_20Percent against its own reference has a largest feature PSI of "
        "{drift/KDDTrain+_20Percent.txt/max_feature_psi:.3f} and output PSI "
        "{drift/KDDTrain+_20Percent.txt/output_psi:.3f}; KDDTest+ has "
        "{drift/KDDTest+.txt/max_feature_psi:.3f} (service, flag and the SYN-error rates) and "
        "output PSI {drift/KDDTest+.txt/output_psi:.3f}",
    ),
    (
        "demo_time.json",
        "{cpu_seconds:.0f} s of CPU in {seconds:.0f} s of wall clock on this shared 2-core machine "
        "at load {load_average:.0f}; beside a 2-thread busy job {loaded/cpu_seconds:.0f} s of CPU, "
        "ratio {loaded/cpu_ratio:.2f})",
    ),
    (
        "throughput_capacity_best.json",
        "`detect` over {rows:,} rows takes {cpu_s:.0f} s of CPU instead of 32 s and "
        "`benchmarks/throughput.py` gives {rows_per_s:hundreds} rows/s, {ratio:.1f} × the "
        "reference pipeline",
    ),
    (
        "throughput_capacity_best.json",
        "Shapley values enumerated over every leaf's path features to "
        "{exact/max_abs_diff_vs_enumerated_shapley:.0e}",
    ),
    (
        "nsl_kdd_capacity_best.json",
        "raises KDDTest+ accuracy to {kddtest_plus/accuracy:.3f} (FPR {kddtest_plus/fpr:.3f}) and "
        "KDDTest-21 macro-F1 to {kddtest_21/macro_f1:.3f}",
    ),
    (
        "iot23.json",
        "| 34-1 Mirai | yes | {s/34-1/flows_to_first_incident:,} | "
        "{s/34-1/malicious_flow_recall:.3f} | {s/34-1/benign_flow_fpr:.3f} |",
    ),
    (
        "iot23.json",
        "| 20-1 Torii | yes | {s/20-1/flows_to_first_incident:,} | "
        "{s/20-1/malicious_flow_recall:.3f} | {s/20-1/benign_flow_fpr:.3f} |",
    ),
    (
        "iot23.json",
        "| 21-1 Torii | yes | {s/21-1/flows_to_first_incident:,} | "
        "{s/21-1/malicious_flow_recall:.3f} | {s/21-1/benign_flow_fpr:.3f} |",
    ),
    (
        "iot23.json",
        "| 42-1 Trojan | **no** |  | {s/42-1/malicious_flow_recall:.3f} | {s/42-1/benign_flow_fpr:.3f} |",
    ),
    (
        "iot23.json",
        "| honeypot-4-1 |  |  |  | {s/honeypot-4-1/benign_flow_fpr:.3f} | "
        "{s/honeypot-4-1/incidents_on_benign_capture} |",
    ),
    (
        "iot23.json",
        "| honeypot-7-1 |  |  |  | {s/honeypot-7-1/benign_flow_fpr:.3f} | "
        "{s/honeypot-7-1/incidents_on_benign_capture} |",
    ),
    (
        "behaviour_scale.json",
        "{result/seconds:.1f} s, **{result/records_per_s:,} records/s**",
    ),
    (
        "behaviour_scale.json",
        "{result/incidents} incidents, one per infected copy; peak RSS "
        "**{result/peak_rss_mb:,.0f} MB**",
    ),
    (
        "behaviour_scale.json",
        "**{watch/sustained_records_per_s:,} records/s** sustained after the first quarter",
    ),
    (
        "behaviour_scale.json",
        "{watch/incidents} incidents, memory growth after the first quarter "
        "**{watch/memory_growth_mb:.0f} MB**",
    ),
    (
        "payloads.json",
        "| TrustShield hardened (trained) | {models/hardened/test/sqli:.4f} | "
        "{models/hardened/test/xss:.3f} | {models/hardened/test/cmdi:.3f} | "
        "{models/hardened/test/path-traversal:.3f} | {models/hardened/test/false_positives} of "
        "6,434 ({models/hardened/test/fpr:.4f}) |",
    ),
    (
        "payloads.json",
        "{throughput/payloads_per_cpu_s:hundreds} payloads per CPU second (10,355 test payloads, "
        "median of 3); {throughput/payloads_per_s:hundreds} per wall-clock second",
    ),
    (
        "domains.json",
        "| random 70/30: ROC AUC | {random_split/trustshield/auc:.3f} | "
        "{random_split/peer_tfidf_lr/auc:.3f} |",
    ),
    (
        "domains.json",
        "| leave-one-family-out: mean detection (mean test FPR) | "
        "**{lofo/trustshield/mean_detection:.3f}** ({lofo/trustshield/mean_test_fpr:.2%}) | "
        "{lofo/peer_tfidf_lr/mean_detection:.3f} ({lofo/peer_tfidf_lr/mean_test_fpr:.2%}) |",
    ),
    (
        "domains.json",
        "| matsnu / suppobox / gozi (wordlist families) | "
        "{lofo/trustshield/wordlist/matsnu:.3f} / {lofo/trustshield/wordlist/suppobox:.3f} / "
        "{lofo/trustshield/wordlist/gozi:.3f} |",
    ),
    (
        "tables.json",
        "| `phishing-tan2018` (5 stratified folds) | 5 | {t/phishing-tan2018/mean/trustshield_fpr:.4f} | "
        "{t/phishing-tan2018/mean/trustshield_detection:.4f} | {t/phishing-tan2018/mean/trustshield_detection_same_rule:.4f} | "
        "{t/phishing-tan2018/mean/lightgbm_detection_at_same_fpr:.4f} | {t/phishing-tan2018/mean/splits_not_worse} / "
        "{t/phishing-tan2018/mean/splits_not_worse_same_rule} of {t/phishing-tan2018/mean/splits} |",
    ),
    (
        "tables.json",
        "| NSL-KDD `KDDTrain+_20Percent` (stratified folds) | {runs/nsl-kdd/folds} | {t/nsl-kdd/mean/trustshield_fpr:.4f} | "
        "{t/nsl-kdd/mean/trustshield_detection:.4f} | {t/nsl-kdd/mean/trustshield_detection_same_rule:.4f} | "
        "{t/nsl-kdd/mean/lightgbm_detection_at_same_fpr:.4f} | {t/nsl-kdd/mean/splits_not_worse} / "
        "{t/nsl-kdd/mean/splits_not_worse_same_rule} of {t/nsl-kdd/mean/splits} |",
    ),
    (
        "tables.json",
        "NSL-KDD leave-one-category-out, each\n"
        "attack category removed from the training half in turn: mean detection of the removed\n"
        "category {t/nsl-kdd/leave_one_category_out_mean/trustshield_detection:.4f} against the "
        "default LightGBM's {t/nsl-kdd/leave_one_category_out_mean/lightgbm_detection_at_same_fpr:.4f} "
        "at the same FPR ({t/nsl-kdd/leave_one_category_out_mean/trustshield_fpr:.4f}), TrustShield\n"
        "≥ on {t/nsl-kdd/leave_one_category_out_mean/splits_not_worse} of "
        "{t/nsl-kdd/leave_one_category_out_mean/splits} categories",
    ),
    (
        "tables_nsl_kdd_one_se.json",
        "detection {t/nsl-kdd/mean/trustshield_detection:.4f} against "
        "{t/nsl-kdd/mean/lightgbm_detection_at_same_fpr:.4f} at FPR "
        "{t/nsl-kdd/mean/trustshield_fpr:.4f}, TrustShield ≥ on "
        "{t/nsl-kdd/mean/splits_not_worse} of {t/nsl-kdd/mean/splits} folds; "
        "leave-one-category-out "
        "{t/nsl-kdd/leave_one_category_out_mean/trustshield_detection:.4f} against "
        "{t/nsl-kdd/leave_one_category_out_mean/lightgbm_detection_at_same_fpr:.4f}, "
        "{t/nsl-kdd/leave_one_category_out_mean/splits_not_worse} of "
        "{t/nsl-kdd/leave_one_category_out_mean/splits}",
    ),
    (
        "tables.json",
        "| IoT-23 flows, each scenario left out (detection: those with malware) | 6 | {t/iot-23/mean/trustshield_fpr:.4f} | "
        "{t/iot-23/mean/trustshield_detection:.4f} | {t/iot-23/mean/trustshield_detection_same_rule:.4f} | "
        "{t/iot-23/mean/lightgbm_detection_at_same_fpr:.4f} | {t/iot-23/mean/splits_not_worse} / "
        "{t/iot-23/mean/splits_not_worse_same_rule} of {t/iot-23/mean/splits} |",
    ),
    (
        "phishing.json",
        "chosen inside the training half) | {trustshield/fpr:.4f} | "
        "{trustshield/detection_rate:.4f} | **{trustshield/accuracy:.4f}** |",
    ),
    (
        "phishing.json",
        "(threshold set on the test half's normal pages) | {trustshield/fpr:.4f} | "
        "{lightgbm/detection_at_trustshield_fpr:.4f} | {lightgbm/accuracy_at_trustshield_fpr:.4f} |",
    ),
]


def lookup(document, path: str):
    """The value at ``a/b/c`` in a parsed JSON document (KeyError names the missing step)."""
    head, _, rest = path.partition("/")
    path = f"{ALIASES[head]}/{rest}" if head in ALIASES else path
    value = document
    for step in path.split("/"):
        value = value[step]
    return value


def render(claim: str, document) -> str:
    """``claim`` with each ``{path:spec}`` field replaced by the formatted JSON value."""

    def one(match: re.Match) -> str:
        value = lookup(document, match["path"])
        if match["spec"] is None:
            return str(value)
        if match["spec"] == "hundreds":
            return f"{round(value, -2):,.0f}"
        text = format(value, match["spec"])
        if match["spec"].endswith("%"):
            text = text[:-1] + " %"  # the README puts a space before a percent sign
        return "−" + text[1:] if text.startswith("-") else text  # the README's minus sign

    return FIELD.sub(one, claim)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("results", "claim"), CLAIMS, ids=[f"{r}:{c[:30]}" for r, c in CLAIMS])
def test_readme_states_the_committed_benchmark_figure(results, claim):
    document = json.loads((RESULTS / results).read_text(encoding="utf-8"))
    sentence = flat(render(claim, document))
    readme = flat((ROOT / "README.md").read_text(encoding="utf-8"))
    assert sentence in readme, f"README.md does not say: {sentence!r} (from {results})"


def test_a_changed_figure_no_longer_matches():
    document = {"rows_per_s": 20079.5, "ratio": 3.426}
    assert render("about {rows_per_s:hundreds} rows/s", document) == "about 20,100 rows/s"
    document["rows_per_s"] = 24127.0
    assert render("about {rows_per_s:hundreds} rows/s", document) == "about 24,100 rows/s"
