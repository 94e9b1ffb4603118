"""NSL-KDD accuracy benchmark: TrustShield beside the published figures and two baselines.

    python benchmarks/nsl_kdd.py --json out/bench_nsl_kdd.json

Protocol: everything (models, operating points, thresholds) is chosen on
KDDTrain+_20Percent only; KDDTest+ and KDDTest-21 are each scored once, to report.
Binary view: normal vs attack; records TrustShield routes to review count as not alerted.
The script also measures data ceilings (test attack records identical to normal records).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier

from trustshield.assess.performance import binary_metrics
from trustshield.commands.common import resolve_data
from trustshield.ingest.tabular import TableSource
from trustshield.pipeline.evaluate import evaluate
from trustshield.pipeline.report_content import drift_content
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import TrainConfig, train
from trustshield.specs import load_spec, read_spec_text

TRAIN, TEST_PLUS, TEST_21 = "KDDTrain+_20Percent.txt", "KDDTest+.txt", "KDDTest-21.txt"
#: Tavallaee et al. 2009, accuracy (%) of learners trained on the full KDDTrain+
PAPER = {
    "J48": (81.05, 63.97),
    "Naive Bayes": (76.56, 55.77),
    "NB Tree": (82.02, 66.16),
    "Random Forest": (80.67, 63.25),
    "Random Tree": (81.59, 58.51),
    "MLP": (77.41, 57.34),
    "SVM": (69.52, 42.29),
}
TARGETS = "KDDTest+ accuracy ≥ 0.90 with FPR ≤ 0.06; KDDTest-21 macro-F1 ≥ 0.75"


def read(spec, name: str) -> tuple[pd.DataFrame, str]:
    source = TableSource(resolve_data(f"nsl-kdd:{name}"), spec)
    return source.read_all(), source.sha256


def trustshield_run(spec, frames) -> tuple[dict, dict]:
    """Train once on the training file, then evaluate each test file once."""
    spec_text, _ = read_spec_text("nsl-kdd")
    model = train(
        frames[TRAIN][0],
        spec,
        spec_text,
        config=TrainConfig(),
        provenance={"data": {"name": TRAIN, "sha256": frames[TRAIN][1]}},
    )
    model.manifest = {"model_id": "benchmark", "detector": "hybrid(gbdt, prototype)"}
    results = {}
    for name in (TEST_PLUS, TEST_21):
        figures = evaluate(model, TableSource(resolve_data(f"nsl-kdd:{name}"), spec)).as_dict()
        m = figures["metrics"]
        frame = frames[name][0]
        alerted = score_batch(model, frame).decision.alerted
        false_alerts = frame.loc[alerted & (frame.label == "normal").to_numpy(), "service"]
        results[name] = {
            **{
                k: m[k]
                for k in (
                    "accuracy",
                    "macro_f1",
                    "fpr",
                    "detection_rate",
                    "precision",
                    "roc_auc",
                    "review_share",
                )
            },
            "per_category": {r["category"]: r["detection_rate"] for r in figures["per_category"]},
            "per_attack": {
                r["attack"]: {
                    "records": r["records"],
                    "seen": r["seen_in_training"],
                    "detection_rate": r["detection_rate"],
                }
                for r in figures["per_attack"]
            },
            "false_alerts_by_service": false_alerts.value_counts().head(6).to_dict(),
        }
    results["drift"] = {name: drift_figures(model, spec, name) for name in (TRAIN, TEST_PLUS)}
    return results, {
        **model.training["selection"],
        "capacity_trials": model.training["capacity_trials"],
    }


def drift_figures(model, spec, name: str) -> dict:
    """The report's whole-file drift of ``name`` against the model's training reference:
    largest feature PSI, output (suspicion) PSI, level and the features that moved most."""
    section, _ = drift_content(model, TableSource(resolve_data(f"nsl-kdd:{name}"), spec))
    whole = section.whole
    return {
        "max_feature_psi": whole.max_feature_psi,
        "output_psi": whole.output_psi,
        "level": whole.level,
        "top_features": [f.name for f in whole.top_features or ()],
    }


def encode_plain(frame: pd.DataFrame, features, categories=None):
    X = frame[list(features)].copy()
    categories = categories or {
        c: sorted(X[c].unique()) for c in ("protocol_type", "service", "flag")
    }
    for c, values in categories.items():
        X[c] = pd.Index(values).get_indexer(X[c]).astype(float)
    return X, categories


def baselines(spec, frames) -> dict:
    """RandomForest and default LightGBM at probability 0.5, trained on the same file."""
    train_frame = frames[TRAIN][0]
    X, cats = encode_plain(train_frame, spec.feature_names)
    y = (train_frame.label != "normal").to_numpy()
    models = {
        "RandomForest (scikit-learn defaults)": RandomForestClassifier(random_state=0, n_jobs=2),
        "LightGBM (defaults, p ≥ 0.5)": lgb.LGBMClassifier(random_state=0, verbose=-1),
    }
    out = {}
    for name, model in models.items():
        model.fit(X, y)
        out[name] = {}
        for test in (TEST_PLUS, TEST_21):
            frame = frames[test][0]
            Xt, _ = encode_plain(frame, spec.feature_names, cats)
            alerted = model.predict_proba(Xt)[:, 1] >= 0.5
            out[name][test] = binary_metrics(
                y_true=(frame.label != "normal").to_numpy(), alerted=alerted
            )
    return out


def ceilings(spec, frames) -> dict:
    """Facts about the data that bound any detector, measured here."""
    features = list(spec.feature_names)
    train_frame, test = frames[TRAIN][0], frames[TEST_PLUS][0]
    normal_rows = set(map(tuple, test.loc[test.label == "normal", features].astype(str).to_numpy()))
    normal_rows |= set(
        map(tuple, train_frame.loc[train_frame.label == "normal", features].astype(str).to_numpy())
    )
    attacks = test[test.label != "normal"]
    same = np.array([tuple(r) in normal_rows for r in attacks[features].astype(str).to_numpy()])
    snmp = (attacks.label == "snmpgetattack").to_numpy()

    def share(f):
        return float((f.loc[f.label == "normal", "service"] == "private").mean())

    return {
        "test_attacks_identical_to_a_normal_record": int(same.sum()),
        "snmpgetattack_identical_share": float(same[snmp].mean()),
        "private_share_of_normals": {"train": share(train_frame), "kddtest_plus": share(test)},
        "test_attack_names_unseen_in_training": sorted(set(test.label) - set(train_frame.label)),
    }


def print_table(result: dict) -> None:
    ts = result["trustshield"]
    rows = [("TrustShield hybrid", ts["kddtest_plus"], ts["kddtest_21"])]
    rows += [(n, r[TEST_PLUS], r[TEST_21]) for n, r in result["baselines"].items()]
    print(
        f"\n{'model':<40} {'Test+ acc':>9} {'FPR':>6} {'DR':>6} {'mF1':>6} | {'Test-21 acc':>11} {'FPR':>6} {'DR':>6} {'mF1':>6}"
    )
    for name, a, b in rows:
        print(
            f"{name:<40} {a['accuracy']:9.4f} {a['fpr']:6.3f} {a['detection_rate']:6.3f} {a['macro_f1']:6.3f}"
            f" | {b['accuracy']:11.4f} {b['fpr']:6.3f} {b['detection_rate']:6.3f} {b['macro_f1']:6.3f}"
        )
    print("Tavallaee et al. 2009 (trained on the full KDDTrain+, 5x this file), accuracy only:")
    for name, (plus, t21) in PAPER.items():
        print(f"  {name:<38} {plus / 100:9.4f} {'':>20} | {t21 / 100:11.4f}")
    print(f"targets: {TARGETS}")
    print(f"protocol: {result['protocol']}")
    print(f"ceilings: {json.dumps(result['ceilings'])}")
    print(f"KDDTest+ false alerts by service: {ts['kddtest_plus']['false_alerts_by_service']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    spec = load_spec("nsl-kdd")
    started = time.perf_counter()
    frames = {name: read(spec, name) for name in (TRAIN, TEST_PLUS, TEST_21)}
    ours, selection = trustshield_run(spec, frames)
    result = {
        "kddtest_plus": ours[TEST_PLUS],
        "kddtest_21": ours[TEST_21],
        "drift": ours["drift"],
        "protocol": selection["protocol"] + " Records routed to review count as not alerted.",
        "selection": {
            k: selection[k]
            for k in (
                "probability",
                "quantile",
                "normal_fpr",
                "objective",
                "per_category",
                "capacity_trials",
            )
        },
        "baselines": baselines(spec, frames),
        "ceilings": ceilings(spec, frames),
        "data_sha256": {name: sha for name, (_, sha) in frames.items()},
        "targets": TARGETS,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "lightgbm": lgb.__version__},
    }
    result["trustshield"] = {"kddtest_plus": ours[TEST_PLUS], "kddtest_21": ours[TEST_21]}
    print_table(result)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({k: v for k, v in result.items() if k != "trustshield"}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
