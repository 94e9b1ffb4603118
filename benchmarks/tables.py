"""Any labelled table: TrustShield beside a default LightGBM on the same splits.

    python benchmarks/tables.py --json out/bench_tables.json [--tables nsl-kdd,phishing-tan2018]

Protocol, per table (every choice of TrustShield, including its model capacity, operating
points and thresholds, is made inside the training part of each split; the test part is
scored once, to report):
- splits: stratified k-fold (default 5) on the table, or leave-one-group-out when the table
  has groups (IoT-23 flows: one group per scenario);
- TrustShield: ``train`` with its default configuration on the training part, then its
  alerts on the test part give its test FPR and detection (reviews count as not alerted);
- baseline: LightGBM with default parameters on the same encoded training part, its
  detection at TrustShield's test FPR (its threshold alerts at most that share of the test
  part's normal records: the comparison at equal FPR) and at its own default 0.5;
- leave-one-category-out, when the table has at least two attack categories: on one
  stratified 50/50 split, each category's attacks removed from the training half in turn;
  detection of that category in the test half at each model's FPR, as above;
- drift: every test part of a random split, compared with its model's drift reference; a
  feature or output PSI at or above "moderate" is a false alarm (the parts come from the
  same distribution).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from trustshield.assess.baselines import detection_at_fpr
from trustshield.commands.common import resolve_data
from trustshield.drift.monitor import drift
from trustshield.ingest.tabular import TableSource
from trustshield.ingest.validate import check_frame
from trustshield.ingest.zeek_chunks import read_conn_table
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import TrainConfig, train
from trustshield.pipeline.train_config import CAPACITY_FIELDS
from trustshield.records import ALERT
from trustshield.specs import load_spec, read_spec_text

TABLES = {
    "nsl-kdd": "nsl-kdd:KDDTrain+_20Percent.txt",
    "phishing-tan2018": "phishing-tan2018:Phishing_Legitimate_full.csv",
    "iot-23": "iot-23 (six scenarios' conn logs)",
}
#: tables split by group (leave one group out) rather than by stratified folds
GROUPED = ("iot-23",)
TARGETS = (
    "TrustShield's detection ≥ the default LightGBM's at the same FPR on every table, and its "
    "leave-one-category-out mean detection ≥ the baseline's; 0 drift false alarms"
)


@dataclass(frozen=True)
class Table:
    """A labelled table: validated records, its spec and spec text, and groups (or None)."""

    name: str
    frame: pd.DataFrame
    spec: object
    spec_text: str
    groups: np.ndarray | None = None


def read_flows(name: str) -> Table:
    """IoT-23's labelled conn logs as one table of flows, the scenario as the group. Zeek
    writes "-" for a duration or byte count it did not measure (no reply, no payload):
    counted as 0 here; the honeypot captures write the label "benign" in lower case."""
    spec = load_spec(name)
    frames, groups = [], []
    for f in spec.files:
        flows = read_conn_table(resolve_data(f"{name}:{f.name}"))
        for column in ("duration", "orig_bytes", "resp_bytes"):
            flows[column] = flows[column].fillna(0)
        flows["detailed-label"] = flows["detailed-label"].fillna("-")
        normal = flows["label"].str.lower() == str(spec.normal_label).lower()
        flows["label"] = flows["label"].where(~normal, spec.normal_label)
        checked = check_frame(flows, spec, file=f.name, lines=np.arange(1, len(flows) + 1))
        if checked.rejected_rows:
            raise SystemExit(
                f"{f.name}: {checked.rejected_rows} rows rejected: {checked.problems[:3]}"
            )
        frames.append(checked.frame)
        groups += [f.name.split("/")[0]] * len(checked.frame)
    return Table(
        name, pd.concat(frames, ignore_index=True), spec, read_spec_text(name)[0], np.array(groups)
    )


def read_table(name: str) -> Table:
    if name in GROUPED:
        return read_flows(name)
    spec = load_spec(name)
    return Table(
        name,
        TableSource(resolve_data(TABLES[name]), spec).read_all(),
        spec,
        read_spec_text(name)[0],
    )


def attack_of(table: Table, frame: pd.DataFrame) -> np.ndarray:
    return (frame[table.spec.label_column].astype(str) != str(table.spec.normal_label)).to_numpy()


def fit_trustshield(table: Table, frame: pd.DataFrame, seed: int):
    return train(
        frame.reset_index(drop=True),
        table.spec,
        table.spec_text,
        config=TrainConfig(seed=seed),
        provenance={"data": {"name": table.name, "rows": len(frame)}},
    )


def compare(table: Table, train_rows: np.ndarray, test_rows: np.ndarray, seed: int) -> dict:
    """TrustShield and the default LightGBM on one split; detection at TrustShield's FPR."""
    train_frame = table.frame.iloc[train_rows].reset_index(drop=True)
    test_frame = table.frame.iloc[test_rows].reset_index(drop=True)
    started = time.perf_counter()
    model = fit_trustshield(table, train_frame, seed)
    seconds = time.perf_counter() - started
    scored = score_batch(model, test_frame)
    attack = attack_of(table, test_frame)
    alerted = np.asarray(scored.decision.actions == ALERT)
    fpr = float(alerted[~attack].mean())
    X_train, X_test = model.encoder.transform(train_frame), model.encoder.transform(test_frame)
    baseline = lgb.LGBMClassifier(random_state=seed, verbose=-1)
    baseline.fit(X_train, attack_of(table, train_frame).astype(int))
    p = baseline.predict_proba(X_test)[:, 1]
    result = {
        "train_rows": int(len(train_frame)),
        "test_rows": int(len(test_frame)),
        "test_attacks": int(attack.sum()),
        "trustshield_fpr": fpr,
        "trustshield_detection": float(alerted[attack].mean()) if attack.any() else None,
        "lightgbm_detection_at_same_fpr": (
            detection_at_fpr(p, attack, fpr) if attack.any() else None
        ),
        "lightgbm_fpr_at_0.5": float((p[~attack] >= 0.5).mean()),
        "lightgbm_detection_at_0.5": float((p[attack] >= 0.5).mean()) if attack.any() else None,
        "capacity": {k: model.training["config"][k] for k in CAPACITY_FIELDS},
        "selection_objective": model.training["selection"]["objective"],
        "train_seconds": round(seconds, 1),
    }
    if model.drift_reference is not None:
        window = drift(model.drift_reference, X_test, scored.decision.suspicion)
        moved = [f for f in (*window.features, window.output) if f is not None]
        result["drift_false_alarm"] = any(f.level != "none" for f in moved)
        result["drift_max_feature_psi"] = max(f.psi for f in window.features)
        result["drift_output_psi"] = None if window.output is None else window.output.psi
    return result


def leave_one_group_out(table: Table, seed: int, log) -> list[dict]:
    assert table.groups is not None
    out = []
    for group in sorted(set(table.groups)):
        held = table.groups == group
        row = compare(table, np.flatnonzero(~held), np.flatnonzero(held), seed)
        for key in ("drift_false_alarm", "drift_max_feature_psi", "drift_output_psi"):
            row.pop(key, None)  # another network, not a random split: drift is expected
        out.append({"group": group, **row})
        log(table.name, group, out[-1])
    return out


def cross_validation(table: Table, folds: int, seed: int, log, first: int | None) -> list[dict]:
    """The splits of ``table`` (the first ``first`` folds only, when given)."""
    if table.groups is not None:
        return leave_one_group_out(table, seed, log)
    attack = attack_of(table, table.frame)
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    out = []
    for k, (train_rows, test_rows) in enumerate(split.split(table.frame, attack)):
        if first is not None and k >= first:
            break
        out.append({"fold": k, **compare(table, train_rows, test_rows, seed)})
        log(table.name, f"fold {k}", out[-1])
    return out


def leave_one_category_out(table: Table, seed: int, log) -> list[dict]:
    """One stratified 50/50 split; each attack category removed from training in turn."""
    spec = table.spec
    labels = table.frame[spec.label_column].astype(str).to_numpy()
    categories = np.array([spec.category(v) for v in labels], dtype=object)
    attack = attack_of(table, table.frame)
    kinds = sorted(set(categories[attack]))
    if len(kinds) < 2:
        return []
    train_rows, test_rows = next(
        StratifiedKFold(2, shuffle=True, random_state=seed).split(table.frame, attack)
    )
    out = []
    for held in kinds:
        keep_train = train_rows[categories[train_rows] != held]
        keep_test = test_rows[(~attack[test_rows]) | (categories[test_rows] == held)]
        out.append({"category": held, **compare(table, keep_train, keep_test, seed)})
        log(table.name, f"without {held}", out[-1])
    return out


def summary(rows: list[dict]) -> dict:
    def mean(key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(values)) if values else None

    keys = (
        "trustshield_fpr",
        "trustshield_detection",
        "lightgbm_detection_at_same_fpr",
        "lightgbm_fpr_at_0.5",
        "lightgbm_detection_at_0.5",
    )
    out = {k: mean(k) for k in keys}
    pairs = [
        (r["trustshield_detection"], r["lightgbm_detection_at_same_fpr"])
        for r in rows
        if r.get("trustshield_detection") is not None
    ]
    out["splits_not_worse"] = sum(t >= b for t, b in pairs)
    out["splits"] = len(pairs)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated table names")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--first-folds",
        type=int,
        help="run only the first N of the k folds (a time-boxed run; the output says so)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()

    def log(table, split, row):
        print(
            f"{table:<18} {split:<22} TrustShield FPR {row['trustshield_fpr']:.4f} detection "
            f"{row['trustshield_detection'] if row['trustshield_detection'] is None else round(row['trustshield_detection'], 4)}"
            f" | LightGBM at same FPR {row['lightgbm_detection_at_same_fpr']}"
            f" | capacity {row['capacity']['n_estimators']} trees ({row['train_seconds']} s)",
            flush=True,
        )

    results = {}
    for name in args.tables.split(","):
        table = read_table(name)
        folds = cross_validation(table, args.folds, args.seed, log, args.first_folds)
        loco = leave_one_category_out(table, args.seed, log)
        results[name] = {
            "rows": int(len(table.frame)),
            "splits": folds,
            "mean": summary(folds),
            "leave_one_category_out": loco,
            "leave_one_category_out_mean": summary(loco) if loco else None,
            "drift_false_alarms": sum(bool(r.get("drift_false_alarm")) for r in folds),
        }
    figures = {
        "protocol": __doc__.split("Protocol, per table", 1)[1].strip(),
        "targets": TARGETS,
        "folds": args.folds,
        "first_folds_only": args.first_folds,
        "tables": results,
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
    }
    print(
        json.dumps(
            {
                n: {k: r[k] for k in ("mean", "leave_one_category_out_mean", "drift_false_alarms")}
                for n, r in results.items()
            },
            indent=2,
        )
    )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(figures, fh, indent=2)


if __name__ == "__main__":
    main()
