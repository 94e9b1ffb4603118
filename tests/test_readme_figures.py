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
    "by_factor": "budget_curve/success_by_factor_at_3_features",
    "hsj_masked": "peer_variants/hopskipjump_controllable_only",
    "kb": "keystroke/baselines",
    "ksb": "keystroke_short/baselines",
    "kg5": "keystroke_generalisation/timings only, enrol 5, next 26",
    "kg10": "keystroke_generalisation/timings only, enrol 10, next 26",
    "kg5_5": "keystroke_generalisation/timings only, first 10 typings: enrol 5, next 5",
    "zm": "zeek/match",
    "m": "models",
    "flood": "attacks/3/figures",
}
#: (results file, README sentence with ``{path/in/json:format}`` fields; ``format`` is a
#: Python format spec, ``hundreds`` for a count rounded to hundreds or ``count`` for the
#: length of a list, ``MB`` for bytes as whole megabytes, ``minutes`` for seconds as whole
#: minutes, ``yesno`` for a boolean (a number in a list is found by its
#: index: ``runs/0``); negative numbers
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
        "exports.json",
        "| `ecs` | {formats/ecs/runs_s/0:.2f} / {formats/ecs/runs_s/1:.2f} / "
        "{formats/ecs/runs_s/2:.2f} | {formats/ecs/median_s:.2f} | {formats/ecs/median_cpu_s:.2f} | "
        "{formats/ecs/bytes:MB} |",
    ),
    (
        "exports.json",
        "| `jsonl` | {formats/jsonl/runs_s/0:.2f} / {formats/jsonl/runs_s/1:.2f} / "
        "{formats/jsonl/runs_s/2:.2f} | {formats/jsonl/median_s:.2f} | {formats/jsonl/median_cpu_s:.2f} | "
        "{formats/jsonl/bytes:MB} |",
    ),
    (
        "exports.json",
        "| `csv` | {formats/csv/runs_s/0:.2f} / {formats/csv/runs_s/1:.2f} / "
        "{formats/csv/runs_s/2:.2f} | {formats/csv/median_s:.2f} | {formats/csv/median_cpu_s:.2f} | "
        "{formats/csv/bytes:MB} |",
    ),
    (
        "exports.json",
        "| `stix` | {formats/stix/runs_s/0:.1f} (one run) | {formats/stix/median_s:.1f} | "
        "{formats/stix/median_cpu_s:.1f} | {formats/stix/bytes:MB} |",
    ),
    (
        "exports.json",
        "at a 1-minute load average of about {machine/load_average/0:.0f}:",
    ),
    (
        "exports.json",
        "the `stix2` library builds and checks every object in Python ({formats/stix/median_cpu_s:.0f} "
        "s of CPU for the {alerts:,} alerts, three objects each)",
    ),
    (
        "payloads.json",
        "The wall-clock rate ({throughput/payloads_per_s:hundreds} per second) depends on the load "
        "of this machine shared by many processes",
    ),
    (
        "payloads.json",
        "the CPU-time rate ({throughput/payloads_per_cpu_s:hundreds}) is the machine-independent "
        "figure",
    ),
    (
        "payloads.json",
        "The character-level explanation (for display) is Python, "
        "{throughput/character_explanations_per_s:.0f} payloads per second.",
    ),
    (
        "fuzz_readers.json",
        "**{unexpected} unexpected exceptions, {hangs} hangs, {crashes} crashes** ({seconds:.0f} s;",
    ),
    (
        "throughput.json",
        "attributions match `shap.TreeExplainer` and an independent Shapley enumeration to "
        "{exact/max_abs_diff_vs_enumerated_shapley:.0e} (largest difference over "
        "{exact/n_alerts:,} alerts).",
    ),
    (
        "robustness.json",
        "| TrustShield attacks (score + decision + tree) | {ours/success_rate:.3f} | "
        "0 of every example | {ours/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "| ART HopSkipJump, usual unconstrained form | {peer/success_rate:.3f} | "
        "{peer/infeasible_share:.3f} | {peer/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "| ART ZOO | {peer_variants/zoo/success_rate:.3f} | {peer_variants/zoo/infeasible_share:.3f} "
        "| {peer_variants/zoo/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "| ART HopSkipJump, masked to attacker-controlled features | {hsj_masked/success_rate:.3f} "
        "| {hsj_masked/infeasible_share:.3f} | {hsj_masked/feasible_success_rate:.3f} |",
    ),
    (
        "robustness.json",
        "Adversarial training cuts feasible evasion by {checks/hardening_relative_cut:.0%} with "
        "KDDTest+ accuracy {defences/adversarial/clean_accuracy_delta:+.3f} and FPR "
        "{defences/adversarial/fpr_delta:+.4f}; monotone constraints alone bring it to "
        "{defences/monotone/feasible_success_rate:.3f} (accuracy "
        "{defences/monotone/clean_accuracy_delta:+.3f}, FPR {defences/monotone/fpr_delta:+.3f})",
    ),
    (
        "robustness.json",
        "and {by_factor/1.25:.3f} / {by_factor/1.5:.3f} / {by_factor/2.0:.3f} / "
        "{by_factor/4.0:.3f} / {by_factor/10.0:.3f} for factors 1.25 / 1.5 / 2 / 4 / 10 at 3 features",
    ),
    (
        "robustness.json",
        "The whole benchmark took {seconds:.0f} s on this shared 2-core machine",
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
        "Mean EER: TrustShield **{keystroke/ours/mean:.3f} ± {keystroke/ours/sd:.3f}**; best "
        "classic detector, outlier count, {kb/Outlier count (z-score)/mean:.3f} ± "
        "{kb/Outlier count (z-score)/sd:.3f} (ratio **{keystroke/ratio:.3f}**); scaled Manhattan "
        "{kb/Manhattan (scaled)/mean:.3f}, one-class SVM {kb/SVM (one-class)/mean:.3f}, Manhattan "
        "{kb/Manhattan/mean:.3f}, k-means {kb/k-means/mean:.3f}, Euclidean "
        "{kb/Euclidean/mean:.3f}, nearest-neighbour Mahalanobis "
        "{kb/Nearest neighbour (Mahalanobis)/mean:.3f}, Mahalanobis {kb/Mahalanobis/mean:.3f}",
    ),
    (
        "auth.json",
        "**{keystroke_short/ours/mean:.3f} ± {keystroke_short/ours/sd:.3f}** against outlier count "
        "{ksb/Outlier count (z-score)/mean:.3f} (ratio **{keystroke_short/ratio:.3f}**); scaled "
        "Manhattan {ksb/Manhattan (scaled)/mean:.3f}.",
    ),
    (
        "auth.json",
        "ratio to the best classic detector {kg5/ratio:.3f} with 5 enrolment typings (TrustShield "
        "{kg5/ours/mean:.3f} against {kg5/best_baseline_figures/mean:.3f}: short of 0.75), "
        "{kg10/ratio:.3f} with 10, {kg5_5/ratio:.3f} with 5 typings enrolled and the next 5 tested",
    ),
    (
        "auth.json",
        "(user21 {mouse/auc_per_user/user21:.3f}, user23 {mouse/auc_per_user/user23:.3f}, user29 "
        "{mouse/auc_per_user/user29:.3f})",
    ),
    (
        "auth.json",
        "decided sessions need a median of {mouse/actions_to_decision/median_actions:.0f} actions",
    ),
    (
        "auth.json",
        "Per-user quantile thresholds make it worse ({fairness/variants/per_user/worst_decile_frr:.3f}",
    ),
    (
        "auth.json",
        "`benchmarks/auth.py --json PATH` ({seconds:.0f} s here;",
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
        "service_load.json",
        "drives `POST /v1/score` for {seconds:.0f} s with batches of {batch} KDDTest+ records, "
        "{concurrency} in flight, against `serve` with {workers} scoring worker (its default "
        "here) and the DuckDB store, with the `make demo` model: {records_per_s:,.0f} records/s "
        "scored and explained, p50 {p50_ms:.0f} ms, p99 {p99_ms:.0f} ms, {errors} errors, and all "
        "{alerts_stored:,} returned alerts stored, at a 1-minute load average of "
        "{load_average:.1f} before the run (server and client used {cpu_seconds:.0f} s of CPU in "
        "the {wall_s:.0f} s",
    ),
    (
        "watch.json",
        "the committed run used `--records {records}`, because on this shared 2-core machine at "
        "a 1-minute load average of {load_average_before:.1f}",
    ),
    (
        "watch.json",
        "| records/s over {records:,} records | **{records_per_s:,}** ({cpu_seconds:.0f} s of CPU "
        "in {seconds:.0f} s of wall clock) | ≥ 50,000 |",
    ),
    (
        "watch.json",
        "| lost / duplicated records | {lost} / {duplicated} (ledger against the file's lines; "
        "alert ids) | 0 / 0 |",
    ),
    (
        "watch.json",
        "| RSS of the process tree, first → last million | {rss_start_mb:,.0f} → "
        "{rss_end_mb:,.0f} MB (two samples only) | growth ≤ 50 MB |",
    ),
    (
        "watch.json",
        "That model flags every one of these records ({alerts:,} alerts:",
    ),
    (
        "spark_scale.json",
        "The committed run used `--rows {rows} --sample {identity_check/lines}` (the local engine "
        "on the first {rows_local:,} rows) to fit this shared 2-core machine, at a 1-minute load "
        "average of {machine/loadavg_before/0:.1f} from other work, one run each:",
    ),
    (
        "spark_scale.json",
        "| local `detect` (into DuckDB) | {rows_local:,} | {rows_per_s_local:,.0f} |",
    ),
    (
        "spark_scale.json",
        "| Spark `local[1]` (into Parquet) | {rows:,} | {rows_per_s_1core:,.0f} |",
    ),
    (
        "spark_scale.json",
        "| Spark `local[2]` | {rows:,} | {rows_per_s_2core:,.0f} ({speedup_2core:.2f} × one core) |",
    ),
    (
        "spark_scale.json",
        "The Spark alerts for lines 1–{identity_check/lines:,} equal the local engine's: "
        "{identity_check/compared_alerts:,} alerts compared, {identity_check/different} different",
    ),
    (
        "attack_suite.json",
        "while 4 clients send wrong secrets {auth_p90_ms_under_wrong_secret_flood:.1f} ms",
    ),
    (
        "attack_suite.json",
        "Measured here (all {attacks:count} attacks on the final code,",
    ),
    (
        "attack_suite.json",
        "The refusal of a wrong secret took {flood/known_id_wrong_secret_ms_median:.0f} ms (median) "
        "for a known token id and {flood/unknown_id_ms_median:.0f} ms for an unknown one, "
        "{flood/known_unknown_difference:.1%} apart (target within 25 %).",
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
        "median over 3 runs: {seconds:.0f} s of wall clock and {cpu_seconds:.0f} s of CPU; "
        "beside a 2-thread busy job {loaded/cpu_seconds:.0f} s of CPU, ratio "
        "{loaded/cpu_ratio:.2f})",
    ),
    (
        "demo_time_recheck.json",
        "gave a median of {seconds:.0f} s of wall clock and {cpu_seconds:.0f} s of CPU",
    ),
    (
        "demo_time.json",
        "the first quiet run started at a 1-minute load average of "
        "{runs/0/load_before/0:.2f} and took {runs/0/seconds:.1f} s",
    ),
    (
        "pcap_peers.json",
        "| Zeek, {zeek/connections} connections | 5-tuple / proto | {zm/five_tuple:.0%} / "
        "{zm/proto:.0%} |",
    ),
    (
        "pcap_peers.json",
        "| Zeek | packets, originator / responder | {zm/orig_pkts:.1%} / {zm/resp_pkts:.1%} |",
    ),
    (
        "pcap_peers.json",
        "| Zeek | IP bytes, originator / responder | {zm/orig_ip_bytes:.1%} / "
        "{zm/resp_ip_bytes:.1%} |",
    ),
    (
        "pcap_peers.json",
        "| Zeek | payload bytes, originator / responder | {zm/orig_bytes:.1%} / "
        "{zm/resp_bytes:.1%} |",
    ),
    (
        "pcap_peers.json",
        "| Zeek | `conn_state` / duration within 1 ms | {zm/conn_state:.1%} / {zm/duration:.1%} |",
    ),
    (
        "pcap_peers.json",
        "| Zeek | connections missing / extra | {zeek/missing:count} / {zeek/extra:count} |",
    ),
    (
        "pcap_peers.json",
        "| nfstream, {nfstream/flows} flows | flow count / bidirectional packets | "
        "{nfstream/match/flow_count:.0%} / {nfstream/match/bidirectional_packets:.0%} |",
    ),
    (
        "demo_time.json",
        "it took {steps/assess/seconds:.0f} s of wall clock and {steps/assess/cpu_seconds:.0f} s of "
        "CPU within `make demo` (median of the quiet runs in `benchmarks/results/demo_time.json`)",
    ),
    (
        "report_scale.json",
        "`trustshield report` on {rows:,} records (KDDTest+ repeated) with the `make demo` model in "
        "{seconds:.0f} s of wall clock and {runs/0/cpu_s:.0f} s of CPU at a load average of "
        "{runs/0/loadavg_before/0:.1f} (one run; target ≤ {targets/seconds:.0f} s) and "
        "{peak_rss_mb:,.0f} MB peak RSS (target ≤ {targets/peak_rss_mb:,.0f} MB)",
    ),
    (
        "throughput_capacity_best.json",
        "So `detect` over {rows:,} rows takes {cpu_s:.0f} s of CPU and "
        "`benchmarks/throughput.py` gives {rows_per_s:hundreds} rows/s, {ratio:.1f} × the "
        "reference pipeline",
    ),
    (
        "throughput_capacity_best.json",
        "that costs {exact/explanation_cost/first_sight_ms_per_row:.3f} ms a row at first "
        "sight of every route and {exact/explanation_cost/routes_known_ms_per_row:.4f} ms once "
        "the routes are known, against "
        "{exact/explanation_cost/lightgbm_pred_contrib_ms_per_row:.3f} ms for LightGBM's "
        "`pred_contrib`",
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
        "{result/seconds:.1f} s, **{result/records_per_s:,} records/s** (target ≥ 200,000: met); "
        "the process used **{result/cpu_s:.1f} CPU seconds** ({result/cpu_user_s:.1f} user, "
        "{result/cpu_system_s:.1f} system",
    ),
    (
        "behaviour_scale.json",
        "{watch/records:,} records (87 copies) through `watch --once`",
    ),
    (
        "behaviour_scale.json",
        "the watch process used {watch/cpu_s_process:.1f} CPU seconds for the 2,000,000 records",
    ),
    (
        "behaviour_scale.json",
        "DuckDB's buffer pool after each tenth, MB: "
        + ", ".join(f"{{watch/duckdb_memory_mb_by_tenth/{i}:.0f}}" for i in range(10))
        + ".",
    ),
    (
        "behaviour_scale.json",
        "The end-of-run commit that closes the windows still open adds nothing (growth with it "
        "{watch/memory_growth_mb_with_end_of_run:.0f} MB)",
    ),
    (
        "behaviour_scale.json",
        "RSS after each tenth of the records, MB: "
        + ", ".join(f"{{watch/rss_mb_by_tenth/{i}:.0f}}" for i in range(10))
        + ".",
    ),
    (
        "behaviour_scale.json",
        "{watch/incidents} incidents, memory growth after the first quarter "
        "**{watch/memory_growth_mb:.0f} MB**",
    ),
    (
        "behaviour_spark.json",
        "({input/records:,} records, {input/copies} copies of 34-1): Spark and local incidents "
        "identical: **{spark_local_identical:yesno}** ({spark/incidents} incidents, the JSON "
        "lines byte for byte).",
    ),
    (
        "behaviour_spark.json",
        "Local: {result/seconds:.1f} s, {result/cpu_s:.1f} CPU seconds; Spark `local[2]`: "
        "{spark/seconds:.1f} s with the session's start, {spark/cpu_s:.1f} CPU seconds",
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
        "| TrustShield hardened (trained) | {m/hardened/test/sqli:.4f} | {m/hardened/test/xss:.3f} | "
        "{m/hardened/test/cmdi:.3f} | {m/hardened/test/path-traversal:.3f} | "
        "{m/hardened/test/false_positives} of 6,434 ({m/hardened/test/fpr:.4f}) | "
        "{m/hardened/evasion/evaded} / {m/hardened/guided_evasion/evaded} of "
        "{m/hardened/evasion/caught:,} | {m/hardened/guided_evasion_strong/evaded} of "
        "{m/hardened/guided_evasion_strong/caught:,} |",
    ),
    (
        "payloads.json",
        "| TrustShield without hardening (trained) | {m/plain/test/sqli:.4f} | {m/plain/test/xss:.3f} | "
        "{m/plain/test/cmdi:.3f} | {m/plain/test/path-traversal:.3f} | "
        "{m/plain/test/false_positives} ({m/plain/test/fpr:.2g}) | {m/plain/evasion/rate:.2g} / "
        "{m/plain/guided_evasion/rate:.2g} | {m/plain/guided_evasion_strong/rate:.2g} "
        "({m/plain/guided_evasion_strong/evaded} of {m/plain/guided_evasion_strong/caught:,}) |",
    ),
    (
        "payloads.json",
        "| TrustShield, normalisation only (trained) | {m/normalised/test/sqli:.4f} | "
        "{m/normalised/test/xss:.3f} | {m/normalised/test/cmdi:.3f} | "
        "{m/normalised/test/path-traversal:.3f} | {m/normalised/test/false_positives} "
        "({m/normalised/test/fpr:.2g}) | {m/normalised/evasion/rate:.2g} / "
        "{m/normalised/guided_evasion/rate:.2g} | |",
    ),
    (
        "payloads.json",
        "| TF-IDF + LR (trained) | {m/tfidf/test/sqli:.4f} | {m/tfidf/test/xss:.3f} | "
        "{m/tfidf/test/cmdi:.3f} | {m/tfidf/test/path-traversal:.3f} | "
        "{m/tfidf/test/false_positives} ({m/tfidf/test/fpr:.2g}) | {m/tfidf/evasion/rate:.2g} / "
        "{m/tfidf/guided_evasion/rate:.2g} | {m/tfidf/guided_evasion_strong/rate:.2g} "
        "({m/tfidf/guided_evasion_strong/evaded} of {m/tfidf/guided_evasion_strong/caught:,}) |",
    ),
    (
        "payloads.json",
        "| TrustShield hardened (test FPR 0.001) | {m/hardened_at_test_fpr/test/sqli:.4f} | "
        "{m/hardened_at_test_fpr/test/xss:.3f} | {m/hardened_at_test_fpr/test/cmdi:.3f} | "
        "{m/hardened_at_test_fpr/test/path-traversal:.3f} | "
        "{m/hardened_at_test_fpr/test/false_positives} ({m/hardened_at_test_fpr/test/fpr:.2g}) | | |",
    ),
    (
        "payloads.json",
        "| TF-IDF + LR (test FPR 0.001) | {m/tfidf_at_test_fpr/test/sqli:.4f} | "
        "{m/tfidf_at_test_fpr/test/xss:.3f} | {m/tfidf_at_test_fpr/test/cmdi:.3f} | "
        "{m/tfidf_at_test_fpr/test/path-traversal:.3f} | "
        "{m/tfidf_at_test_fpr/test/false_positives} ({m/tfidf_at_test_fpr/test/fpr:.2g}) | | |",
    ),
    (
        "payloads.json",
        "| libinjection | {m/libinjection/test/sqli:.3f} | {m/libinjection/test/xss:.3f} | "
        "{m/libinjection/test/cmdi:.3f} | {m/libinjection/test/path-traversal:.3f} | "
        "{m/libinjection/test/false_positives} | {m/libinjection/evasion/rate:.2g} (random) | "
        "{m/libinjection/evasion_strong/rate:.2g} (random, {m/libinjection/evasion_strong/evaded} "
        "of {m/libinjection/evasion_strong/caught:,}) |",
    ),
    (
        "payloads.json",
        "on the shared 2-core machine at a load average of {throughput/load_average_1min:.0f} "
        "(libinjection {m/libinjection/payloads_per_s:hundreds} per second in the same run). "
        "Largest |base + Σ terms − score|: {explanations/max_abs_sum_error:.1e}",
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
        "| domains/s with explanations (scores only), per CPU second | "
        "{throughput/explained_per_cpu_s:hundreds} ({throughput/scored_per_cpu_s:hundreds}) |",
    ),
    (
        "domains.json",
        "| random 70/30: detection at the threshold (test FPR) | "
        "{random_split/trustshield/detection_at_1pct_fpr:.3f} "
        "({random_split/trustshield/test_fpr:.2%}) | "
        "{random_split/peer_tfidf_lr/detection_at_1pct_fpr:.3f} "
        "({random_split/peer_tfidf_lr/test_fpr:.2%}) | |",
    ),
    (
        "domains.json",
        "| same, both at exactly 1 % test FPR (reference) | "
        "{lofo/trustshield/mean_at_test_1pct_fpr:.3f} | {lofo/peer_tfidf_lr/mean_at_test_1pct_fpr:.3f} | |",
    ),
    (
        "domains.json",
        "/ {lofo/trustshield/wordlist/gozi:.3f} | {lofo/peer_tfidf_lr/wordlist/matsnu:g} / "
        "{lofo/peer_tfidf_lr/wordlist/suppobox:g} / {lofo/peer_tfidf_lr/wordlist/gozi:g} |",
    ),
    (
        "domains.json",
        "| max \\|base + Σ character attributions − score\\| | {throughput/max_abs_sum_error:.1e} |",
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
        "nsl_kdd_capacity_best.json",
        "picks LightGBM's default shape (held-out objective "
        "{selection/capacity_trials/1/objective:.3f} against "
        "{selection/capacity_trials/0/objective:.3f})",
    ),
    (
        "tables.json",
        "(mean {t/phishing-tan2018/mean/trustshield_detection_same_rule:.4f} both; fold 4: "
        "{t/phishing-tan2018/splits/4/trustshield_detection:.3f} against "
        "{t/phishing-tan2018/splits/4/lightgbm_detection_at_same_fpr:.3f})",
    ),
    (
        "tables.json",
        "below on fold 0, {t/nsl-kdd/splits/0/trustshield_detection:.5f} against "
        "{t/nsl-kdd/splits/0/lightgbm_detection_at_same_fpr:.5f} (1 of",
    ),
    (
        "tables.json",
        "(TrustShield ≥ on 34-1, {t/iot-23/splits/2/trustshield_detection:.3f} against "
        "{t/iot-23/splits/2/lightgbm_detection_at_same_fpr:.3f}, and 42-1, "
        "{t/iot-23/splits/3/trustshield_detection:.3f} against "
        "{t/iot-23/splits/3/lightgbm_detection_at_same_fpr:.3f}; below on 20-1, "
        "{t/iot-23/splits/0/trustshield_detection:.3f} against "
        "{t/iot-23/splits/0/lightgbm_detection_at_same_fpr:.3f} of 16 attacks, and 21-1, "
        "{t/iot-23/splits/1/trustshield_detection:.3f} against "
        "{t/iot-23/splits/1/lightgbm_detection_at_same_fpr:.3f} of 14)",
    ),
    (
        "tables.json",
        "TrustShield alerts {t/iot-23/splits/4/trustshield_fpr:.0%} and "
        "{t/iot-23/splits/5/trustshield_fpr:.0%} of the two benign captures'",
    ),
    (
        "phishing.json",
        "chosen inside the training half) | {trustshield/fpr:.4f} | "
        "{trustshield/detection_rate:.4f} | **{trustshield/accuracy:.4f}** |",
    ),
    (
        "phishing.json",
        "| default LightGBM at its own 0.5 | {lightgbm/at_0.5/fpr:.4f} | "
        "{lightgbm/at_0.5/detection_rate:.4f} | {lightgbm/at_0.5/accuracy:.4f} |",
    ),
    (
        "phishing.json",
        "Every one of the {explanations/flagged:,} flagged test pages is explained exactly "
        "(largest |base + Σ attributions − suspicion| {explanations/max_abs_gap:.1e}).",
    ),
    (
        "phishing.json",
        "on {evasion/records} flagged test phishing pages: 6 evade "
        "({evasion/success_rate:.3f}; score and tree attacks {evasion/attacks/score:.3f}, decision "
        "attack {evasion/attacks/decision:.3f})",
    ),
    (
        "phishing.json",
        "(threshold set on the test half's normal pages) | {trustshield/fpr:.4f} | "
        "{lightgbm/detection_at_trustshield_fpr:.4f} | {lightgbm/accuracy_at_trustshield_fpr:.4f} |",
    ),
]


PEERS = ("lightgbm", "isolation_forest", "nsl_kdd_model")


def iot23_peer_cells(scenario: str, malware: bool) -> str:
    """The end of an IoT-23 table row: better than every peer, and each peer's recall (FPR)."""
    at = f"s/{scenario}/peers"
    peers = [
        (f"{{{at}/{p}/malicious_flow_recall:.3f}} " if malware else "")
        + f"({{{at}/{p}/benign_flow_fpr:.3f}})"
        for p in PEERS
    ]
    return f"| {{s/{scenario}/better_than_every_peer:yesno}} | {' / '.join(peers)} |"


CLAIMS += (
    [
        ("iot23.json", f"{{s/{name}/benign_flow_fpr:.3f}} |  {iot23_peer_cells(name, True)}")
        for name in ("34-1", "42-1", "20-1", "21-1")
    ]
    + [
        (
            "iot23.json",
            f"{{s/{name}/benign_flow_fpr:.3f}} | {{s/{name}/incidents_on_benign_capture}} "
            + iot23_peer_cells(name, False),
        )
        for name in ("honeypot-4-1", "honeypot-7-1")
    ]
    + [("iot23.json", "(`benchmarks/results/iot23.json`, {seconds:minutes} min on two cores")]
)


def lookup(document, path: str):
    """The value at ``a/b/c`` in a parsed JSON document, a number stepping into a list
    (``runs/0/seconds``); KeyError names the missing step."""
    head, _, rest = path.partition("/")
    path = f"{ALIASES[head]}/{rest}" if head in ALIASES else path
    value = document
    for step in path.split("/"):
        value = value[int(step)] if isinstance(value, list) else value[step]
    return value


def render(claim: str, document) -> str:
    """``claim`` with each ``{path:spec}`` field replaced by the formatted JSON value."""

    def one(match: re.Match) -> str:
        value = lookup(document, match["path"])
        if match["spec"] is None:
            return str(value)
        if match["spec"] == "count":
            return str(len(value))
        if match["spec"] == "yesno":
            return "yes" if value else "no"
        if match["spec"] == "minutes":
            return f"{value / 60:.0f}"
        if match["spec"] == "MB":
            return f"{value / 1e6:,.0f} MB"
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


def test_what_the_readme_says_in_words_holds_in_the_committed_results():
    """Statements the README makes about the results without a number to compare."""
    load = json.loads((RESULTS / "service_load.json").read_text(encoding="utf-8"))
    assert load["alerts_stored"] == load["alerts_returned"]  # "all ... returned alerts stored"
    peers = json.loads((RESULTS / "pcap_peers.json").read_text(encoding="utf-8"))
    differing = {name for name, t in peers["zeek"]["traces"].items() if t["differences"]}
    assert differing == {"gridftp"}  # "The one Zeek difference is a GridFTP data channel"
    phishing = json.loads((RESULTS / "phishing.json").read_text(encoding="utf-8"))["evasion"]
    assert round(phishing["records"] * phishing["success_rate"]) == 6  # "6 evade"
    suite = json.loads((RESULTS / "attack_suite.json").read_text(encoding="utf-8"))
    assert suite["attacks"][3]["attack"] == "auth_wrong_secret_flood"  # the alias "flood"
    attacks_s = sum(a["seconds"] for a in suite["attacks"])
    readme = flat((ROOT / "README.md").read_text(encoding="utf-8"))
    assert f"{attacks_s:.0f} s of attacks plus the suite's own training" in readme
    fuzz = json.loads((RESULTS / "fuzz_readers.json").read_text(encoding="utf-8"))
    slowest = max(r["slowest_case_s"] for r in fuzz["per_reader"])
    assert f"crashes** ({fuzz['seconds']:.0f} s; slowest case {slowest:.1f} s)" in readme
    watched = json.loads((RESULTS / "watch.json").read_text(encoding="utf-8"))
    assert watched["alerts"] == watched["records"]  # "flags every one of these records"
    assert len(watched["rss_by_million_mb"]) == 3  # the start and "two samples only"
    spark = json.loads((RESULTS / "spark_scale.json").read_text(encoding="utf-8"))
    assert spark["identical_to_local"]  # "0 different"; "one run each"
    assert len(spark["runs_1core"]) == len(spark["runs_2core"]) == 1
    report = json.loads((RESULTS / "report_scale.json").read_text(encoding="utf-8"))
    assert len(report["runs"]) == 1  # "one run"


def iot23_variant_row(name: str, scenarios: dict) -> str:
    """One row of the README's IoT-23 variants table, from each scenario's figures for the
    variant ``name``."""
    v = {scenario: figures["variants"][name] for scenario, figures in scenarios.items()}
    mirai, trojan = v["34-1"], v["42-1"]
    cells = [
        name,
        f"{mirai['flows_to_first_incident']:,} / {mirai['malicious_flow_recall']:.3f}",
        f"{'yes' if trojan['infected_host_found'] else 'no'}, "
        f"{trojan['malicious_flow_recall']:.3f} ({trojan['benign_flow_fpr']:.3f})",
    ]
    for torii in (v["20-1"], v["21-1"]):
        cells.append(
            f"found, {torii['flows_to_first_incident']}, recall {torii['malicious_flow_recall']:.3f}"
            if torii["infected_host_found"]
            else f"missed (FPR {torii['benign_flow_fpr']:.3f})"
        )
    benign = (v["honeypot-4-1"], v["honeypot-7-1"])
    incidents = " / ".join(str(b["incidents_on_benign_capture"]) for b in benign)
    if any(b["incidents_on_benign_capture"] for b in benign):
        incidents += " (" + " / ".join(f"{b['benign_flow_fpr']:.2g}" for b in benign) + ")"
    cells.append(incidents)
    return "| " + " | ".join(cells) + " |"


def test_the_iot23_variants_table_is_the_committed_run():
    scenarios = json.loads((RESULTS / "iot23.json").read_text(encoding="utf-8"))["scenarios"]
    readme = flat((ROOT / "README.md").read_text(encoding="utf-8"))
    names = list(scenarios["34-1"]["variants"])
    assert len(names) == 9
    for name in names:
        row = iot23_variant_row(name, scenarios)
        assert row in readme, f"README.md does not say: {row!r} (from iot23.json)"


#: the README's name of each rule in benchmarks/results/payload_thresholds.json
PAYLOAD_RULES = {
    "oof3_cp99": "3-fold out-of-fold, 99 % bound (TrustShield's rule)",
    "oof3": "3-fold out-of-fold, 95 % bound (the rule before)",
    "in_sample": "in-sample, 95 % bound",
    "oof5": "5-fold out-of-fold, 95 % bound",
    "conformal": "held-out third of normal rows (split conformal)",
    "fold_average": "mean of the 3 fold models, 3-fold threshold",
    "C1": "C = 1 (10× more L2), 3-fold threshold",
}


def payload_threshold_row(rule: str, doc: dict) -> str:
    """One row of the README's payload threshold-rules table, from payload_thresholds.json."""
    held = doc["training"]["pooled"][rule]
    test = doc["test"][rule]
    ours, peer = test["test"], test["tfidf_same_false_positives"]
    types = ("sqli", "xss", "cmdi", "path-traversal")
    cells = [
        PAYLOAD_RULES[rule],
        f"{held['false_positives']} ({held['fpr']:.5f})",
        " / ".join(f"{held[t]:.3f}" for t in types),
        f"{ours['false_positives']} ({ours['fpr']:.5f})",
        " / ".join(f"{ours[t]:.4f}" for t in types),
        " / ".join(f"{peer[t]:.4f}" for t in types),
        f"{test['evasion_random']['evaded']} / {test['evasion_guided']['evaded']}",
    ]
    return "| " + " | ".join(cells) + " |"


def test_the_payload_threshold_rules_table_is_the_committed_run():
    doc = json.loads((RESULTS / "payload_thresholds.json").read_text(encoding="utf-8"))
    readme = flat((ROOT / "README.md").read_text(encoding="utf-8"))
    assert set(doc["rules"]) == set(PAYLOAD_RULES)
    for rule in doc["rules"]:
        row = payload_threshold_row(rule, doc)
        assert row in readme, f"README.md does not say: {row!r} (from payload_thresholds.json)"
