"""Label-flip poisoning on NSL-KDD: detection lost, and recovered by the sanitiser.

    python benchmarks/poisoning.py --json out/bench_poisoning.json

Protocol: training file KDDTrain+_20Percent; 1 %, 5 % and 10 % of its attack records are
relabelled normal (at random, and within the largest attack category), the full pipeline
is retrained each time, and KDDTest+ is scored once per model, only to report. The
sanitiser's rule (drop normal-labelled training rows with out-of-fold P(attack) ≥ 0.5) is
fixed in advance; the known flip mask is used only to score it. About 14 trainings.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

from trustshield.assess.robustness.poisoning import poisoning_evidence
from trustshield.pipeline.poisoning import poisoning_study
from trustshield.commands.common import resolve_data
from trustshield.commands.benchmark import write_json
from trustshield.ingest.tabular import TableSource
from trustshield.specs import load_spec, read_spec_text

TRAIN, TEST = "KDDTrain+_20Percent.txt", "KDDTest+.txt"


def read(spec, name: str) -> tuple[pd.DataFrame, str]:
    source = TableSource(resolve_data(f"nsl-kdd:{name}"), spec)
    return source.read_all(), source.sha256


def print_table(study: dict) -> None:
    clean = study["clean"]
    print(
        f"\n{'flips':<18} {'n':>5} {'DR':>6} {'FPR':>6} {'drop':>7} | {'DR san.':>7} {'FPR':>6} "
        f"{'recov.':>7} {'dropped':>7} {'prec.':>6} {'recall':>6}"
    )
    san = clean["sanitised"]
    print(
        f"{'clean':<18} {0:5d} {clean['detection_rate']:6.3f} {clean['fpr']:6.3f} {'':>7} | "
        f"{san['detection_rate']:7.3f} {san['fpr']:6.3f} {'':>7} {san['dropped_rows']:7d}"
    )

    def fmt(v):
        return f"{v:6.3f}" if v is not None else f"{'-':>6}"

    for r in study["runs"]:
        p, s = r["poisoned"], r["sanitised"]
        name = f"{r['rate']:.0%} {r['target'] or 'random'}"
        print(
            f"{name:<18} {r['flipped']:5d} {p['detection_rate']:6.3f} {p['fpr']:6.3f} {r['drop']:+7.3f} | "
            f"{s['detection_rate']:7.3f} {s['fpr']:6.3f} {r['recovery']:+7.3f} {s['dropped_rows']:7d} "
            f"{fmt(s['precision'])} {fmt(s['recall'])}"
        )
    for r in study["runs"]:
        if r["target"]:
            t = r["target"]
            print(
                f"  {t} test detection at {r['rate']:.0%} targeted flips: clean "
                f"{clean['per_category'].get(t, float('nan')):.3f}, poisoned "
                f"{r['poisoned']['per_category'].get(t, float('nan')):.3f}, sanitised "
                f"{r['sanitised']['per_category'].get(t, float('nan')):.3f}"
            )
    print(f"protocol: {study['protocol']}")
    for e in study["evidence"]:
        print(f"evidence: {e['check']}: {e['value']:.4f} (≤ {e['threshold']}) {e['status']}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    spec = load_spec("nsl-kdd")
    spec_text, _ = read_spec_text("nsl-kdd")
    started = time.perf_counter()
    (train_frame, train_sha), (test_frame, test_sha) = read(spec, TRAIN), read(spec, TEST)
    study = poisoning_study(
        train_frame,
        test_frame,
        spec,
        spec_text=spec_text,
        seed=args.seed,
        progress=lambda m: print(f"[{time.perf_counter() - started:6.0f} s] {m}", flush=True),
    )
    study["evidence"] = [e.as_dict() for e in poisoning_evidence(study)]
    study["data_sha256"] = {TRAIN: train_sha, TEST: test_sha}
    study["seconds"] = round(time.perf_counter() - started, 1)
    print_table(study)
    write_json(study, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
