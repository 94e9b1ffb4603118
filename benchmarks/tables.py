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
- the same rule for both: TrustShield's suspicion thresholded exactly as the baseline's
  score is (``trustshield_detection_same_rule``). TrustShield's own alerts use a threshold
  fixed on training data; the baseline's is placed on the test part's normal records, just
  below the next normal score, so it also catches every attack between the two: with the
  same scores, the first can only lose to the second;
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
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from trustshield.assess.baselines import detection_at_fpr
from trustshield.commands.benchmark import write_json
from trustshield.commands.common import resolve_data
from trustshield.drift.monitor import drift
from trustshield.ingest.tabular import TableSource
from trustshield.ingest.validate import check_frame
from trustshield.ingest.zeek_chunks import read_conn_table
from trustshield.pipeline.scoring import score_batch
from trustshield.pipeline.train import TrainConfig, train
from trustshield.pipeline.train_config import CAPACITY_FIELDS, CAPACITY_RULES
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


#: the capacity rule the committed figures were measured with (``--capacity-rule``'s
#: default here): the higher held-out objective (``train --capacity-rule best``); the
#: train command's default is "one_se"
CAPACITY_RULE = "best"


def fit_trustshield(table: Table, frame: pd.DataFrame, seed: int, rule: str = CAPACITY_RULE):
    return train(
        frame.reset_index(drop=True),
        table.spec,
        table.spec_text,
        config=TrainConfig(seed=seed, capacity_rule=rule),
        provenance={"data": {"name": table.name, "rows": len(frame)}},
    )


def compare(
    table: Table,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    seed: int,
    rule: str = CAPACITY_RULE,
) -> dict:
    """TrustShield and the default LightGBM on one split; detection at TrustShield's FPR."""
    train_frame = table.frame.iloc[train_rows].reset_index(drop=True)
    test_frame = table.frame.iloc[test_rows].reset_index(drop=True)
    started = time.perf_counter()
    model = fit_trustshield(table, train_frame, seed, rule)
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
        "trustshield_detection_same_rule": (
            detection_at_fpr(np.asarray(scored.decision.suspicion), attack, fpr)
            if attack.any()
            else None
        ),
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


@dataclass(frozen=True)
class Task:
    """One split of one table: which section of the output it belongs to, its label there
    (fold, group or category) and the row positions of its two parts."""

    table: str
    section: str  # "splits" or "leave_one_category_out"
    label: dict
    train_rows: np.ndarray
    test_rows: np.ndarray
    drift: bool  # parts from the same distribution: a drift alarm is a false alarm


def split_tasks(table: Table, folds: int, seed: int, first: int | None) -> list[Task]:
    """Leave-one-group-out when ``table`` has groups, else stratified k-fold (the first
    ``first`` folds only, when given)."""
    if table.groups is not None:
        return [
            Task(table.name, "splits", {"group": g}, np.flatnonzero(table.groups != g),
                 np.flatnonzero(table.groups == g), drift=False)
            for g in sorted(set(table.groups))
        ]  # fmt: skip
    attack = attack_of(table, table.frame)
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return [
        Task(table.name, "splits", {"fold": k}, train_rows, test_rows, drift=True)
        for k, (train_rows, test_rows) in enumerate(split.split(table.frame, attack))
        if first is None or k < first
    ]


def category_tasks(table: Table, seed: int) -> list[Task]:
    """One stratified 50/50 split; each attack category removed from training in turn
    (none when the table has fewer than two attack categories)."""
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
    return [
        Task(
            table.name,
            "leave_one_category_out",
            {"category": held},
            train_rows[categories[train_rows] != held],
            test_rows[(~attack[test_rows]) | (categories[test_rows] == held)],
            drift=True,
        )
        for held in kinds
    ]


_READ: dict[str, Table] = {}


def run_task(task: Task, seed: int, rule: str = CAPACITY_RULE) -> dict:
    """compare() on one task (in a worker process: each reads its tables once)."""
    if task.table not in _READ:
        _READ[task.table] = read_table(task.table)
    row = compare(_READ[task.table], task.train_rows, task.test_rows, seed, rule)
    if not task.drift:
        for key in ("drift_false_alarm", "drift_max_feature_psi", "drift_output_psi"):
            row.pop(key, None)  # another network, not a random split: drift is expected
    return {**task.label, **row}


def summary(rows: list[dict]) -> dict:
    def mean(key):
        values = [r[key] for r in rows if r.get(key) is not None]
        return float(np.mean(values)) if values else None

    keys = (
        "trustshield_fpr",
        "trustshield_detection",
        "trustshield_detection_same_rule",
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
    out["splits_not_worse_same_rule"] = sum(
        r["trustshield_detection_same_rule"] >= r["lightgbm_detection_at_same_fpr"]
        for r in rows
        if r.get("trustshield_detection_same_rule") is not None
    )
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
    parser.add_argument(
        "--capacity-rule",
        choices=CAPACITY_RULES,
        default=CAPACITY_RULE,
        help=f"train's capacity rule for TrustShield (default {CAPACITY_RULE})",
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="splits run in this many processes at once"
    )
    parser.add_argument(
        "--no-categories",
        action="store_true",
        help="skip the leave-one-category-out runs (a time-boxed run; the output says so)",
    )
    args = parser.parse_args()
    started = time.perf_counter()

    def log(table, split, row):
        print(
            f"{table:<18} {split:<22} TrustShield FPR {row['trustshield_fpr']:.4f} detection "
            f"{row['trustshield_detection'] if row['trustshield_detection'] is None else round(row['trustshield_detection'], 4)}"
            f" (same rule as LightGBM {row['trustshield_detection_same_rule']})"
            f" | LightGBM at same FPR {row['lightgbm_detection_at_same_fpr']}"
            f" | capacity {row['capacity']['n_estimators']} trees ({row['train_seconds']} s)",
            flush=True,
        )

    names = args.tables.split(",")
    tables = {name: read_table(name) for name in names}
    tasks = [
        t
        for name in names
        for t in (
            *split_tasks(tables[name], args.folds, args.seed, args.first_folds),
            *([] if args.no_categories else category_tasks(tables[name], args.seed)),
        )
    ]
    _READ.update(tables)
    rows: dict[int, dict] = {}

    def figures() -> dict:
        """Everything measured so far (``complete``: every split has finished)."""
        results = {}
        for name in names:
            section = {
                s: [
                    rows[k]
                    for k, t in enumerate(tasks)
                    if t.table == name and t.section == s and k in rows
                ]
                for s in ("splits", "leave_one_category_out")
            }
            folds, loco = section["splits"], section["leave_one_category_out"]
            results[name] = {
                "rows": int(len(tables[name].frame)),
                "splits": folds,
                "mean": summary(folds) if folds else None,
                "leave_one_category_out": loco,
                "leave_one_category_out_mean": summary(loco) if loco else None,
                "drift_false_alarms": sum(bool(r.get("drift_false_alarm")) for r in folds),
            }
        return {
            "protocol": __doc__.split("Protocol, per table", 1)[1].strip(),
            "targets": TARGETS,
            "folds": args.folds,
            "first_folds_only": args.first_folds,
            "capacity_rule": args.capacity_rule,
            "categories_skipped": args.no_categories,
            "complete": len(rows) == len(tasks),
            "tables": results,
            "seconds": round(time.perf_counter() - started, 1),
            "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        }

    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        running = {
            pool.submit(run_task, t, args.seed, args.capacity_rule): k for k, t in enumerate(tasks)
        }
        for done in as_completed(running):
            k = running[done]
            rows[k] = done.result()
            log(tasks[k].table, ", ".join(f"{a} {b}" for a, b in tasks[k].label.items()), rows[k])
            write_json(figures(), args.json)  # a stopped run keeps what it measured
    final = figures()
    keys = ("mean", "leave_one_category_out_mean", "drift_false_alarms")
    print(json.dumps({n: {k: r[k] for k in keys} for n, r in final["tables"].items()}, indent=2))
    write_json(final, args.json)


if __name__ == "__main__":
    main()
