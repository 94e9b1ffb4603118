"""Measurement noise and missing values on NSL-KDD: how TrustShield's decisions change.

    python benchmarks/noise.py --json out/bench_noise.json

Protocol: one model is trained on KDDTrain+_20Percent with the default TrainConfig (as in
benchmarks/nsl_kdd.py); KDDTest+ is scored once as read and once per perturbation, each
applied once with seed 0 and never used to retrain or re-threshold anything.
Noise: integer counters and timings × (1 + level·N(0, 1)); rates + 0.1·level·N(0, 1);
each value rounded to its column's recorded resolution (integers; rates to 0.01) and
clipped to the spec's range; binary, categorical, label and metadata columns untouched; noisy rows that no longer validate against the spec are
excluded and counted. Missing values: that share of all numeric feature values, chosen
uniformly, set to NaN. Decisions come from score_batch (the deployed path); records
routed to review count as not alerted in detection rate and FPR.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import lightgbm as lgb
import pandas as pd

from trustshield.assess.robustness.noise import noise_evidence
from trustshield.pipeline.noise_study import noise_study
from trustshield.commands.common import resolve_data
from trustshield.commands.benchmark import write_json
from trustshield.ingest.tabular import TableSource
from trustshield.pipeline.train import TrainConfig, train
from trustshield.specs import load_spec, read_spec_text

TRAIN, TEST = "KDDTrain+_20Percent.txt", "KDDTest+.txt"
PROTOCOL = " ".join(line.strip() for line in __doc__.split("Protocol:")[1].strip().splitlines())


def read(spec, name: str) -> tuple[pd.DataFrame, str]:
    source = TableSource(resolve_data(f"nsl-kdd:{name}"), spec)
    return source.read_all(), source.sha256


def print_table(result: dict) -> None:
    study = result["study"]
    print(f"\nKDDTest+ ({study['records']} records), model trained on {TRAIN}")
    print(
        f"{'perturbation':<22} {'excl.':>6} {'changed':>8} {'normal':>7} {'attack':>7} "
        f"{'al→allow':>8} {'allow→al':>8} {'DR':>13} {'FPR':>13} {'finite':>6}"
    )
    rows = [(f"noise {r['level']:.0%}", r) for r in study["noise"]]
    rows += [(f"missing {r['rate']:.0%}", r) for r in study["missing"]]
    for name, r in rows:
        if "records" not in r:
            print(f"{name:<22} error: {r['error']}")
            continue
        c = r["by_class"]
        print(
            f"{name:<22} {r['excluded']:6d} {r['changed_share']:8.4f} {c['normal']['changed_share']:7.4f} "
            f"{c['attack']['changed_share']:7.4f} {r['alert_to_allow']:8d} {r['allow_to_alert']:8d} "
            f"{r['before']['detection_rate']:.4f}→{r['after']['detection_rate']:.4f} "
            f"{r['before']['fpr']:.4f}→{r['after']['fpr']:.4f} {str(r['suspicion_finite']):>6}"
        )
        if "error" in r:
            print(
                f"{'':<22} score_batch failed ({r['error']}); decisions measured without explanations"
            )
    for e in result["evidence"]:
        print(f"evidence: {e['check']}: {e['status']} (value {e['value']}, bar {e['threshold']})")
    print(f"protocol: {result['protocol']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    spec = load_spec("nsl-kdd")
    spec_text, _ = read_spec_text("nsl-kdd")
    (train_frame, train_sha), (test, test_sha) = read(spec, TRAIN), read(spec, TEST)
    model = train(
        train_frame,
        spec,
        spec_text,
        config=TrainConfig(),
        provenance={"data": {"name": TRAIN, "sha256": train_sha}},
    )
    study = noise_study(model, test, spec, seed=args.seed)
    result = {
        "protocol": PROTOCOL,
        "study": study,
        "evidence": [e.as_dict() for e in noise_evidence(study)],
        "data_sha256": {TRAIN: train_sha, TEST: test_sha},
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"python": platform.python_version(), "lightgbm": lgb.__version__},
    }
    print_table(result)
    write_json(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
